import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configReference } from '../../src/config/reference.js';
import { sinkTypes } from '../../src/sinks/registry.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('README configuration reference equals the one generated from the schema', () => {
  const start = '<!-- config-reference:start -->';
  const section = readme.slice(readme.indexOf(start) + start.length, readme.indexOf('<!-- config-reference:end -->'));
  assert.equal(section.trim(), configReference().trim(), 'run scripts/update-readme-reference.sh');
});

test('README documents every sink type and every command of the contract', () => {
  for (const type of sinkTypes.keys()) assert.match(readme, new RegExp(`type: ${type}`));
  for (const command of ['run', 'install', 'uninstall', 'sql', 'check']) assert.match(readme, new RegExp(`pgbridge ${command} \\[-c FILE\\]`));
});

test('README quick start is exactly two commands: install+run, and npm test', () => {
  const quickStart = readme.slice(readme.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(quickStart)![1].trim().split('\n');
  assert.equal(block.length, 2);
  assert.match(block[0], /^npm ci && npm start/);
  assert.match(block[1], /^npm test/);
});
