// tars-mesos-local: Mesos 1.11.0's master and one agent in this process, started through libmesos'
// own local-cluster code (src/local/local.cpp, what the `mesos-local` program runs).
//
// libmesos from PyPI ships no headers and no programs, only the library, whose C++ symbols are
// exported. So this file declares the three entry points it needs by their mangled names and
// mirrors the one type it must build itself (Option<std::string>). Built by install.sh:
//   g++ -O2 launcher.cpp -L<cache>/lib -lmesos-1.11.0 -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../lib'
// DT_RPATH (not RUNPATH) because it must also apply to libmesos' own dependencies (the OpenSSL stub
// and the curl shim in the same directory); it applies to nothing this process starts, unlike
// LD_LIBRARY_PATH, which the agent would pass on to executors and tasks.
//
// Configuration is the environment, as for mesos-local (up.sh sets it):
//   LIBPROCESS_IP, LIBPROCESS_PORT   read by process::initialize();
//   MESOS_*                          read by local::launch() into master::Flags and slave::Flags
//                                    (both load "MESOS_"; the agent's work dir is
//                                    $MESOS_WORK_DIR/<agent index>, the master's is $MESOS_WORK_DIR).
// Logs: glog, to stderr when GLOG_logtostderr=1.
//
// SIGTERM or SIGINT: local::shutdown() (terminates the master, then the agent), then _exit(0).
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

// stout's Option<T>: `enum State { SOME, NONE } state;` followed by `union { T t; }`.
struct OptionString {
  int state;  // 0 = SOME, 1 = NONE
  std::string value;
};

// bool process::initialize(const Option<std::string>& delegate,
//                          const Option<std::string>& readwriteAuthenticationRealm,
//                          const Option<std::string>& readonlyAuthenticationRealm);
extern bool process_initialize(const OptionString&, const OptionString&, const OptionString&) __asm__(
    "_ZN7process10initializeERK6OptionINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEES9_S9_");

// mesos::internal::local::Flags::Flags() (the complete-object constructor; defaults only).
extern "C" void local_flags_construct(void* self) __asm__("_ZN5mesos8internal5local5FlagsC1Ev");

// process::PID<Master> mesos::internal::local::launch(const Flags&, allocator::Allocator*);
// PID<Master> is not trivially copyable, so under the Itanium C++ ABI it is returned through a
// hidden pointer passed as the first argument. A null allocator means the default
// (hierarchical DRF) allocator.
extern "C" void local_launch(void* result, const void* flags, void* allocator) __asm__(
    "_ZN5mesos8internal5local6launchERKNS1_5FlagsEPNS_9allocator9AllocatorE");

// void mesos::internal::local::shutdown();
extern "C" void local_shutdown() __asm__("_ZN5mesos8internal5local8shutdownEv");

#include "python-stubs.h"

// Storage for objects whose size this file cannot know without Mesos' headers. local::Flags'
// constructor writes within its first ~0x100 bytes and a PID (a UPID: strings, shared_ptr, address)
// is a few hundred bytes at most; both are built once and live until _exit.
alignas(64) static unsigned char flags_storage[16384];
alignas(64) static unsigned char master_pid_storage[4096];

// SIGTERM/SIGINT may be handled by any of libprocess' threads, so the handler writes to a pipe
// that the main thread reads (rather than pause(), which only wakes the thread that ran it).
static int signal_pipe[2];
static void on_signal(int) {
  const int saved = errno;
  const char byte = 1;
  (void)!write(signal_pipe[1], &byte, 1);
  errno = saved;
}

int main() {
  if (pipe(signal_pipe) != 0) {
    perror("[tars-mesos-local] pipe");
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  // Delegate "master", as mesos-master and mesos-local do: HTTP requests for paths that name no
  // libprocess process (/health, /api/v1, /state...) go to the master.
  const OptionString delegate{0, "master"};
  const OptionString none{1, std::string()};
  if (!process_initialize(delegate, none, none)) {
    fprintf(stderr, "[tars-mesos-local] libprocess was already initialized\n");
    return 1;
  }

  local_flags_construct(flags_storage);
  local_launch(master_pid_storage, flags_storage, nullptr);  // exits the process on error
  fprintf(stderr, "[tars-mesos-local] master and agent launched, pid %d\n", (int)getpid());

  char byte;
  while (read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  fprintf(stderr, "[tars-mesos-local] signal received: shutting down the master and the agent\n");
  local_shutdown();
  fprintf(stderr, "[tars-mesos-local] stopped\n");
  fflush(stderr);
  // Skip static destructors: libmesos' globals are not built to be torn down.
  _exit(0);
}
