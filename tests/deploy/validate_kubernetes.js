#!/usr/bin/env node
// Every object in the shipped Kubernetes manifest is valid against the
// Kubernetes API's own OpenAPI schema (kubernetes-models from npm), and the
// check can fail: the same manifest with a wrongly typed value or without a
// required field is refused. (The schemas allow fields they do not know, as
// the API server does without strict field validation.)
// Usage: node validate_kubernetes.js NPM_TOOLS_DIR MANIFEST
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const [tools, manifest] = process.argv.slice(2);
const load = (name) => require(path.join(tools, 'node_modules', name));
const YAML = load('yaml');

function modelOf(object) {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') :
                                                             [null, object.apiVersion];
  const module = group ? `kubernetes-models/${group}/${version}/${object.kind}` :
                         `kubernetes-models/${version}/${object.kind}`;
  return load(module)[object.kind];
}

function problemsOf(object) {
  try {
    const Model = modelOf(object);
    new Model(object).validate();
    return null;
  } catch (error) {
    return error.message.split('\n')[0];
  }
}

const objects = YAML.parseAllDocuments(fs.readFileSync(manifest, 'utf8'))
                    .map((document) => document.toJS())
                    .filter((object) => object);
let failed = 0;
for (const object of objects) {
  const problems = problemsOf(object);
  if (problems) {
    console.log(`${object.kind} ${object.metadata && object.metadata.name}: ${problems}`);
    failed++;
  }
}

const statefulSet = objects.find((object) => object.kind === 'StatefulSet');
const broken = [
  ['a replica count written as text', (o) => { o.spec.replicas = 'one'; }],
  ['a container without a name', (o) => { delete o.spec.template.spec.containers[0].name; }],
  ['a port number written as text', (o) => { o.spec.template.spec.containers[0].ports[0].containerPort = 'grpc'; }],
];
for (const [what, breakIt] of broken) {
  const copy = structuredClone(statefulSet);
  breakIt(copy);
  if (!problemsOf(copy)) {
    console.log(`the schema check accepted ${what}`);
    failed++;
  }
}

if (failed) process.exit(1);
console.log(`${objects.length} objects valid (${objects.map((o) => o.kind).join(', ')}); ` +
            `${broken.length} broken copies refused`);
