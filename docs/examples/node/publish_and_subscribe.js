#!/usr/bin/env node
// An agency system in Node.js: publishes an event to the hub, follows the
// case's subscription until the event arrives, and shows how a program reads
// the hub's structured errors. Uses @grpc/grpc-js and @grpc/proto-loader
// (npm ci in this folder); the contract is loaded from the hub's proto/.
//
// Usage: node publish_and_subscribe.js PROTO_DIR HUB_ADDRESS CERTS_DIR CLIENT_NAME CASE_ID
//   e.g. node publish_and_subscribe.js ../../../proto localhost:7443 ../../../data/certs idva-agency C-2026-0001
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const [protoDir, address, certs, client, caseId] = process.argv.slice(2);
if (!caseId) {
  console.error('usage: publish_and_subscribe.js PROTO_DIR HUB_ADDRESS CERTS_DIR CLIENT_NAME CASE_ID');
  process.exit(2);
}

const definition = protoLoader.loadSync('hub/v1/event_service.proto', {
  includeDirs: [protoDir],
  keepCase: true,  // field names as in the .proto: case_id, event_id
  longs: String,   // positions are uint64
  enums: String,
  defaults: false,
  oneofs: true,
});
const hubV1 = grpc.loadPackageDefinition(definition).hub.v1;

// The hub's errors carry a google.rpc.Status in the grpc-status-details-bin
// trailer; its details say what a program can act on (ErrorInfo.reason is
// stable, the message is for people).
const richErrors = new protobuf.Root().loadSync(
    ['google/rpc/status.proto', 'google/rpc/error_details.proto'].map((f) => path.join(protoDir, f)),
    {keepCase: true});
const RpcStatus = richErrors.lookupType('google.rpc.Status');

function detailsOf(error) {
  const [bytes] = error.metadata ? error.metadata.get('grpc-status-details-bin') : [];
  if (!bytes) return [];
  return RpcStatus.decode(bytes).details.map((any) => {
    const typeName = any.type_url.substring(any.type_url.lastIndexOf('/') + 1);
    const type = richErrors.lookupType(typeName);
    return {type: typeName, ...type.toObject(type.decode(any.value), {enums: String})};
  });
}

function describe(error) {
  const parts = [`${grpc.status[error.code]}`];
  for (const detail of detailsOf(error)) {
    if (detail.type === 'google.rpc.ErrorInfo') {
      const metadata = Object.entries(detail.metadata || {}).sort().map(([k, v]) => `${k}=${v}`).join(' ');
      parts.push(`reason=${detail.reason} domain=${detail.domain} ${metadata}`.trim());
    } else if (detail.type === 'google.rpc.BadRequest') {
      for (const violation of detail.field_violations || []) {
        parts.push(`field=${violation.field}`);
      }
    } else if (detail.type === 'google.rpc.RetryInfo') {
      parts.push(`retry_after=${detail.retry_delay ? detail.retry_delay.seconds : 0}s`);
    }
  }
  return parts.join(' ');
}

const read = (file) => fs.readFileSync(path.join(certs, file));
const credentials = grpc.credentials.createSsl(
    read('ca.crt'), read(`clients/${client}.key`), read(`clients/${client}.crt`));
const events = new hubV1.EventService(address, credentials);

// Every unary call has a deadline; a publish that times out is retried with
// the same event ids, which the hub stores once.
const deadline = () => ({deadline: Date.now() + 10000});

function publish(request) {
  return new Promise((resolve, reject) => {
    events.Publish(request, deadline(), (error, response) => (error ? reject(error) : resolve(response)));
  });
}

function envelope(fields) {
  return {
    event_id: crypto.randomUUID(),  // keep it for retries
    purpose: 'PURPOSE_SAFEGUARDING',
    lawful_basis: 'UK GDPR Art 6(1)(e); DPA 2018 Sch 8',
    occurred_time: {seconds: Math.floor(Date.now() / 1000), nanos: 0},
    ...fields,
  };
}

// Follows the case until the event with this id arrives. A real system keeps
// the last global_position it processed (its place in this agency's own
// view) and resubscribes with after_position set to it when the stream ends
// (UNAVAILABLE on a restart).
function waitFor(eventId) {
  return new Promise((resolve, reject) => {
    const stream = events.Subscribe({case_id: caseId, after_position: 0});
    let done = false;
    stream.on('data', (item) => {
      if (item.event && item.event.event_id === eventId) {
        done = true;
        stream.cancel();
        resolve(item.event);
      }
    });
    stream.on('error', (error) => {
      if (!done) reject(error);
    });
  });
}

async function main() {
  const safety = envelope({
    victim_safety_information: {risk_change: 'SIGNIFICANTLY_REDUCED', safety_plan_in_place: true},
  });
  const stored = await publish({case_id: caseId, events: [safety]});
  console.log(`stored in case ${caseId}: already_stored=${Boolean(stored.already_stored)}`);

  const retried = await publish({case_id: caseId, events: [safety]});
  console.log(`retry: already_stored=${Boolean(retried.already_stored)}`);

  const delivered = await waitFor(safety.event_id);
  console.log(`delivered ${delivered.event_id} at position ${delivered.global_position}, ` +
              `version ${delivered.stream_version} of the case as we see it, ` +
              `risk change ${delivered.victim_safety_information.risk_change}`);

  // Errors a program acts on by their details, not by parsing messages.
  const refusals = [
    // A record the sharing protocol gives this agency no rule for.
    envelope({disruption_recorded: {kind: 'ARREST'}}),
    // An enum number the contract does not declare.
    envelope({victim_safety_information: {risk_change: 77}}),
    // The same event id with other content is not a retry.
    {...safety, victim_safety_information: {risk_change: 'SIGNIFICANTLY_INCREASED'}},
  ];
  for (const event of refusals) {
    try {
      await publish({case_id: caseId, events: [event]});
      console.log('refused: nothing (unexpected)');
    } catch (error) {
      console.log(`refused: ${describe(error)}`);
    }
  }
  events.close();
}

main().catch((error) => {
  console.error(`failed: ${describe(error)}: ${error.details || error.message}`);
  process.exit(1);
});
