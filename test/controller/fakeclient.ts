// A KubeClient that records requests and answers them from a script, for the controller's own helpers.
import type { KubeClient, RequestOptions } from '../../src/controller/runtime/client.ts';

export interface Call {
  method: string;
  path: string;
  options: RequestOptions | undefined;
}

export class FakeClient implements KubeClient {
  readonly calls: Call[] = [];
  answer: (call: Call) => unknown = () => ({});

  async request<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
    const call = { method, path, options };
    this.calls.push(call);
    return this.answer(call) as T;
  }

  async watch(): Promise<void> {
    throw new Error('FakeClient does not watch');
  }
}
