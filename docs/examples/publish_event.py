#!/usr/bin/python3
"""Publishes one event to the hub from Python, as an agency system would.

Uses Debian's python3-grpcio and python3-protobuf (run it with /usr/bin/python3)
and stubs generated from proto/ with Debian's protoc and grpc_python_plugin:

  protoc -I proto --python_out=STUBS --grpc_python_out=STUBS \
      --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
      proto/hub/v1/options.proto proto/hub/v1/events.proto proto/hub/v1/event_service.proto \
      proto/google/rpc/status.proto proto/google/rpc/error_details.proto

Usage: publish_event.py STUBS HUB_ADDRESS CERTS_DIR CLIENT_NAME CASE_ID
  e.g. publish_event.py /tmp/stubs localhost:7443 data/certs idva-agency C-2026-0001
"""
import sys
import time
import uuid

stubs, address, certs, client, case_id = sys.argv[1:6]
sys.path.insert(0, stubs)

import grpc  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from hub.v1 import event_service_pb2, event_service_pb2_grpc, events_pb2  # noqa: E402


def explain(error):
    """What a program acts on in a hub error: the google.rpc.Status details in
    the grpc-status-details-bin trailer (the message is for people)."""
    parts = [error.code().name]
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        for detail in status_pb2.Status.FromString(value).details:
            info = error_details_pb2.ErrorInfo()
            bad_request = error_details_pb2.BadRequest()
            if detail.Unpack(info):
                parts.append(f"reason={info.reason}")
                parts.extend(f"{k}={v}" for k, v in sorted(info.metadata.items()))
            elif detail.Unpack(bad_request):
                parts.extend(f"field={v.field}" for v in bad_request.field_violations)
    return " ".join(parts)


def read(path):
    with open(path, "rb") as f:
        return f.read()


credentials = grpc.ssl_channel_credentials(
    root_certificates=read(f"{certs}/ca.crt"),
    private_key=read(f"{certs}/clients/{client}.key"),
    certificate_chain=read(f"{certs}/clients/{client}.crt"),
)
with grpc.secure_channel(address, credentials) as channel:
    stub = event_service_pb2_grpc.EventServiceStub(channel)
    event = events_pb2.EventEnvelope(
        event_id=str(uuid.uuid4()),  # keep it: a retry with the same id is not stored twice
        purpose=events_pb2.PURPOSE_SAFEGUARDING,
        lawful_basis="UK GDPR Art 6(1)(e); DPA 2018 Sch 8",
    )
    event.occurred_time.FromSeconds(int(time.time()))
    event.victim_safety_information.risk_change = events_pb2.SIGNIFICANTLY_REDUCED
    event.victim_safety_information.safety_plan_in_place = True
    response = stub.Publish(
        event_service_pb2.PublishRequest(case_id=case_id, events=[event]), timeout=10)
    # Where it went is each reader's own: ReadCase and Subscribe number the
    # events a reader sees, never those it does not.
    print(f"stored in case {case_id}: already_stored={response.already_stored}")

    # The same event id with other content is not a retry: refused, and the
    # details say why without parsing the message.
    event.victim_safety_information.risk_change = events_pb2.SIGNIFICANTLY_INCREASED
    try:
        stub.Publish(event_service_pb2.PublishRequest(case_id=case_id, events=[event]), timeout=10)
        print("refused: nothing (unexpected)")
    except grpc.RpcError as error:
        print(f"refused: {explain(error)}")
