// Request and response of a callback unary method on one protobuf arena.
// A timeline answer is a few hundred messages and strings (200 events,
// each parsed whole): on the heap each was allocated on its own and freed
// by walking the tree after the call; on an arena they are carved from a
// few blocks and freed with them.
#ifndef HUB_SERVICES_ARENA_MESSAGES_H_
#define HUB_SERVICES_ARENA_MESSAGES_H_

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace hub::services {

// Give one to the generated SetMessageAllocatorFor_<Method>; it must outlive
// the server. Thread-safe: each call gets an arena of its own.
template <typename Request, typename Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions options;
      // A 200-entry timeline is a few hundred KiB parsed: blocks grow to
      // 64 KiB rather than the default 8, so it takes a handful of them.
      options.max_block_size = 64 * 1024;
      return options;
    }
    google::protobuf::Arena arena_;
  };
};

}  // namespace hub::services

#endif  // HUB_SERVICES_ARENA_MESSAGES_H_
