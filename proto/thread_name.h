// Names the calling thread (as `top -H`, perf and /proc show it), so that
// an operator or a profile can tell the log's committer from the projector.
// Linux keeps 15 characters; longer names are cut.
#ifndef HUB_PROTO_THREAD_NAME_H_
#define HUB_PROTO_THREAD_NAME_H_

#include <pthread.h>

#include <string>

namespace hub {

inline void NameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace hub

#endif  // HUB_PROTO_THREAD_NAME_H_
