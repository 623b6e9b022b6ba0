# man fragment (owned by the docs work)
#
# The API reference: man pages written by hand in roff (man(7) macros)
# from include/cgc.h, one page per group of functions, plus a .so link
# page for every other function name, and cgc(7) for the CGC_*
# environment variables (gc/base/options.h).  dist_man_MANS installs them under
# $(mandir)/man3 and $(mandir)/man7 and ships them in the tarball.
# tools/check-man.sh checks that every CGC_API function has a page and
# that each page renders without warnings.

dist_man_MANS = \
	man/man3/cgc.3 \
	man/man3/gc_add_roots.3 \
	man/man3/gc_base.3 \
	man/man3/gc_calloc.3 \
	man/man3/gc_collect.3 \
	man/man3/gc_disable.3 \
	man/man3/gc_enable.3 \
	man/man3/gc_free.3 \
	man/man3/gc_get_stats.3 \
	man/man3/gc_init.3 \
	man/man3/gc_malloc.3 \
	man/man3/gc_malloc_atomic.3 \
	man/man3/gc_option_get.3 \
	man/man3/gc_option_set.3 \
	man/man3/gc_realloc.3 \
	man/man3/gc_register_thread.3 \
	man/man3/gc_remove_roots.3 \
	man/man3/gc_set_error_handler.3 \
	man/man3/gc_set_max_heap_size.3 \
	man/man3/gc_set_oom_handler.3 \
	man/man3/gc_set_output.3 \
	man/man3/gc_size.3 \
	man/man3/gc_stack_register.3 \
	man/man3/gc_stack_switch.3 \
	man/man3/gc_stack_unregister.3 \
	man/man3/gc_stats_json.3 \
	man/man3/gc_strdup.3 \
	man/man3/gc_strndup.3 \
	man/man3/gc_thread_is_registered.3 \
	man/man3/gc_unregister_thread.3 \
	man/man7/cgc.7

EXTRA_DIST += tools/check-man.sh
