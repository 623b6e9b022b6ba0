# gc fragment: libcgc's sources, one folder per module (gc/README.md has the
# tour and the include rules, tools/check-layers.sh checks them).
lib_LTLIBRARIES += libcgc.la
libcgc_la_SOURCES = \
	gc/base/compiler.h gc/base/debug.h gc/base/atomic.h gc/base/os.h gc/base/options.h gc/base/ranges.h gc/base/track.h \
	gc/base/format.h \
	gc/base/os.c gc/base/message.c gc/base/format.c gc/base/options.c gc/base/ranges.c \
	gc/heap/geometry.h gc/heap/layout.h gc/heap/sizes.h gc/heap/lock.h gc/heap/heap.h \
	gc/heap/heap.c gc/heap/sizes.c gc/heap/segment.c \
	gc/alloc/tctx.h gc/alloc/alloc.h gc/alloc/alloc_inline.h gc/alloc/span.h \
	gc/alloc/alloc.c gc/alloc/free.c gc/alloc/cache.c gc/alloc/span.c \
	gc/sweep/reclaim.h gc/sweep/reclaim.c \
	gc/mark/mark.h gc/mark/policy.h gc/mark/roots.h \
	gc/mark/mark.c gc/mark/policy.c gc/mark/roots.c \
	gc/collect/collect.c gc/collect/init.c \
	gc/threads/registry.h gc/threads/interpose.h gc/threads/world.h gc/threads/stacks.h \
	gc/threads/registry.c gc/threads/world.c gc/threads/stacks.c gc/threads/sigwait.c \
	gc/obs/stats.h gc/obs/stats.c \
	gc/debug/verify.h gc/debug/hooks.h gc/debug/verify.c gc/debug/hooks.c
libcgc_la_CPPFLAGS = $(AM_CPPFLAGS) -DCGC_BUILDING $(ATOMIC_OPS_CFLAGS)
libcgc_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
# Only the public gc_* API is exported (gc__* is internal), and the
# pthread and signal functions cgc interposes (threads/registry.c,
# threads/sigwait.c).
libcgc_la_LDFLAGS = -version-info 0:0:0 \
	-export-symbols-regex '^(gc_[a-z].*|pthread_create|pthread_setspecific|pthread_key_delete|pthread_sigmask|sigprocmask|sigsuspend|sigwait|sigwaitinfo|sigtimedwait|ppoll|pselect|epoll_pwait|epoll_pwait2)$$'
libcgc_la_LIBADD = $(ATOMIC_OPS_LIBS)
EXTRA_DIST += gc/README.md gc/compat/README.md
