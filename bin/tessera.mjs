#!/usr/bin/env node
// The `tessera` command. TypeScript runs without a build step through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
