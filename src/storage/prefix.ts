// A prefix names a directory of keys: `/a/b` and `/a/b/` both mean the keys under `/a/b/`, so a list of namespace
// `b` never picks up namespace `bc`. k8s.io/apiserver's etcd3 store appends the slash the same way for recursive reads.

export function directoryPrefix(prefix: string): string {
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** The smallest string above every key under `prefix`, so a prefix read is the index range [prefix, prefixEnd). */
export function prefixEnd(prefix: string): string {
  const last = prefix.length - 1;
  return prefix.slice(0, last) + String.fromCharCode(prefix.charCodeAt(last) + 1);
}
