#!/usr/bin/env node
// `npx postern …` from the clone: the command is TypeScript, run through tsx as `npm start` does.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
