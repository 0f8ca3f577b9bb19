import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findCondition, setCondition, type Condition } from '../../src/controller/conditions.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:01:00.000Z';

describe('setCondition', () => {
  const ready: Condition = { type: 'Ready', status: 'False', observedGeneration: 1, reason: 'MembersNotReady', message: '0 of 1', lastTransitionTime: T0 };

  it('appends a new type with the time of the observation', () => {
    const list = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'MembersReady', message: '' }, T1);
    assert.deepEqual(list, [{ type: 'Ready', status: 'True', reason: 'MembersReady', message: '', lastTransitionTime: T1 }]);
  });

  const cases: Array<{ name: string; status: Condition['status']; time: string }> = [
    { name: 'keeps lastTransitionTime when only reason and message change', status: 'False', time: T0 },
    { name: 'moves lastTransitionTime when the status flips', status: 'True', time: T1 },
  ];
  for (const { name, status, time } of cases) {
    it(name, () => {
      const other: Condition = { ...ready, type: 'BackupHealthy' };
      const list = setCondition([other, ready], { type: 'Ready', status, observedGeneration: 2, reason: 'Other', message: 'changed' }, T1);
      assert.equal(list.length, 2);
      assert.deepEqual(list[0], other, 'other conditions stay as they were, in place');
      assert.deepEqual(findCondition(list, 'Ready'), { type: 'Ready', status, observedGeneration: 2, reason: 'Other', message: 'changed', lastTransitionTime: time });
    });
  }

  it('does not modify the list it was given', () => {
    const list = [ready];
    setCondition(list, { type: 'Ready', status: 'True', reason: 'MembersReady', message: '' }, T1);
    assert.equal(list[0], ready);
    assert.equal(ready.status, 'False');
  });
});
