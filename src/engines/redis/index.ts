// Redis: a primary with replicas (render.ts), backed up as an RDB snapshot over the replication protocol (agent.ts).
import { officialImage } from '../common.ts';
import { defineEngine } from '../define.ts';
import type { Engine } from '../engine.ts';
import { memberRole } from '../replicated.ts';
import { adapter } from './agent.ts';
import { PORT, REDIS_CREDENTIALS, render, UID } from './render.ts';

export const redis: Engine = defineEngine({
  name: 'redis',
  parametersDescription: 'redis.conf directives',
  spec: {
    defaultVersion: '7.2',
    majors: ['6.2', '7.0', '7.2', '7.4'],
    versionPattern: /^(\d+\.\d+)(?:\.\d+)?$/,
    versionExamples: '"7.2" or "7.2.5"',
    maxReplicas: 9,
    oddReplicas: false,
    parameters: {
      keyPattern: /^[a-z][a-z0-9-]*$/,
      keyDescription: 'a redis.conf directive such as maxmemory-policy',
      // `include` would read another file over the managed settings.
      managed: ['bind', 'daemonize', 'dbfilename', 'dir', 'include', 'masterauth', 'port', 'replicaof', 'requirepass', 'slaveof'],
    },
  },
  defaultPort: PORT.port,
  credentialKeys: Object.values(REDIS_CREDENTIALS),
  defaultImage: (version) => officialImage('redis', version),
  render,
  backup: {
    methods: ['rdb'],
    loadMode: () => 'volumes',
    // The primary only: a replica starting on its old data finds a replication history the restored primary does not
    // know and resynchronises in full, which replaces its data (it may answer with its old data until then).
    restoredMembers: () => 1,
    clearsOtherMembers: () => false,
  },
  agent: {
    uid: UID,
    // Redis's `dir` is the root of the volume.
    dataSubPath: '',
    backup: () => ({ credentialKey: REDIS_CREDENTIALS.password }),
    restore: () => ({ credentialKey: REDIS_CREDENTIALS.password }),
  },
  adapter,
  // The adapter speaks the replication protocol itself.
  agentTools: [],
  memberRole,
});
