import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, type RequestObservation } from '../../src/server/metrics.ts';

const GET_DATABASE: RequestObservation = {
  verb: 'get',
  dryRun: '',
  group: 'strongroom.dev',
  version: 'v1alpha1',
  resource: 'databases',
  subresource: '',
  scope: 'resource',
  code: 200,
  seconds: 0.003,
  bytes: 1500,
};

/** The sample lines of one metric family in the text exposition. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('Metrics', () => {
  it('counts requests with kube-apiserver labels and HTTP-style verbs', async () => {
    const metrics = new Metrics({ collectDefault: false });
    metrics.observeRequest(GET_DATABASE);
    metrics.observeRequest(GET_DATABASE);
    metrics.observeRequest({ ...GET_DATABASE, verb: 'create', scope: 'namespace', dryRun: 'All', code: 201 });
    metrics.observeRequest({ ...GET_DATABASE, verb: 'deletecollection', scope: 'namespace', code: 200 });
    metrics.observeRequest({ ...GET_DATABASE, verb: 'GET', group: '', version: '', resource: '', scope: '', code: 403 });
    const text = await metrics.render();
    assert.deepEqual(samples(text, 'apiserver_request_total'), [
      'apiserver_request_total{verb="GET",dry_run="",group="strongroom.dev",version="v1alpha1",resource="databases",subresource="",scope="resource",component="apiserver",code="200"} 2',
      'apiserver_request_total{verb="POST",dry_run="All",group="strongroom.dev",version="v1alpha1",resource="databases",subresource="",scope="namespace",component="apiserver",code="201"} 1',
      'apiserver_request_total{verb="DELETE",dry_run="",group="strongroom.dev",version="v1alpha1",resource="databases",subresource="",scope="namespace",component="apiserver",code="200"} 1',
      'apiserver_request_total{verb="GET",dry_run="",group="",version="",resource="",subresource="",scope="",component="apiserver",code="403"} 1',
    ]);
  });

  it('records durations in upstream buckets and sizes of reads only', async () => {
    const metrics = new Metrics({ collectDefault: false });
    metrics.observeRequest(GET_DATABASE);
    metrics.observeRequest({ ...GET_DATABASE, verb: 'list', scope: 'namespace', bytes: 250_000, seconds: 0.3 });
    metrics.observeRequest({ ...GET_DATABASE, verb: 'patch', bytes: 900 });
    const text = await metrics.render();
    const duration = samples(text, 'apiserver_request_duration_seconds_bucket').filter((l) => l.includes('verb="LIST"'));
    assert.deepEqual(
      duration.map((l) => /le="([^"]+)"/.exec(l)![1]),
      ['0.005', '0.025', '0.05', '0.1', '0.2', '0.4', '0.6', '0.8', '1', '1.25', '1.5', '2', '3', '4', '5', '6', '8', '10', '15', '20', '30', '45', '60', '+Inf'],
    );
    assert.ok(duration.some((l) => l.includes('le="0.2"') && l.endsWith(' 0')));
    assert.ok(duration.some((l) => l.includes('le="0.4"') && l.endsWith(' 1')));
    assert.deepEqual(
      samples(text, 'apiserver_response_sizes_count').map((l) => /verb="(\w+)".* (\d+)$/.exec(l)!.slice(1).join(' ')),
      ['GET 1', 'LIST 1'],
    );
    assert.ok(samples(text, 'apiserver_response_sizes_bucket').some((l) => l.includes('verb="LIST"') && l.includes('le="1000000"') && l.endsWith(' 1')));
  });

  it('tracks in-flight requests by kind', async () => {
    const metrics = new Metrics({ collectDefault: false });
    const doneRead = metrics.requestStarted('readOnly');
    const doneWrite = metrics.requestStarted('mutating');
    metrics.requestStarted('readOnly');
    doneWrite();
    doneWrite();
    doneRead();
    assert.deepEqual(samples(await metrics.render(), 'apiserver_current_inflight_requests'), [
      'apiserver_current_inflight_requests{request_kind="readOnly"} 1',
      'apiserver_current_inflight_requests{request_kind="mutating"} 0',
    ]);
  });

  it('tracks open watches and the events sent to them', async () => {
    const metrics = new Metrics({ collectDefault: false });
    metrics.watchStarted('databases');
    metrics.watchStarted('databases');
    metrics.watchStarted('backups');
    metrics.watchEnded('databases');
    metrics.watchEventSent('databases');
    metrics.watchEventSent('databases');
    const text = await metrics.render();
    assert.deepEqual(samples(text, 'apiserver_longrunning_requests'), [
      'apiserver_longrunning_requests{verb="WATCH",group="strongroom.dev",version="v1alpha1",resource="databases",subresource="",scope="",component="apiserver"} 1',
      'apiserver_longrunning_requests{verb="WATCH",group="strongroom.dev",version="v1alpha1",resource="backups",subresource="",scope="",component="apiserver"} 1',
    ]);
    assert.deepEqual(samples(text, 'apiserver_watch_events_total'), [
      'apiserver_watch_events_total{group="strongroom.dev",version="v1alpha1",resource="databases"} 2',
    ]);
  });

  it('includes process metrics by default, in a registry of its own', async () => {
    const [a, b] = [new Metrics(), new Metrics()];
    a.observeRequest(GET_DATABASE);
    const text = await a.render();
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
    assert.match(text, /^nodejs_heap_size_used_bytes \d/m);
    assert.match(text, /^# TYPE apiserver_request_total counter$/m);
    assert.deepEqual(samples(await b.render(), 'apiserver_request_total'), []);
  });
});
