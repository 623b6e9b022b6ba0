# examples fragment (owned by the examples work)
#
# Small programs that use cgc and never free memory.  `make` builds them;
# `make check` runs each on fixed input and compares its standard output
# with examples/expected/.

noinst_PROGRAMS += examples/wordfreq examples/ptree examples/strbuild

examples_wordfreq_SOURCES = examples/wordfreq.c
examples_wordfreq_LDADD = libcgc.la
examples_ptree_SOURCES = examples/ptree.c
examples_ptree_LDADD = libcgc.la
examples_strbuild_SOURCES = examples/strbuild.c
examples_strbuild_LDADD = libcgc.la

TESTS += examples/check-examples.sh
EXTRA_DIST += \
	examples/check-examples.sh \
	examples/sample.txt \
	examples/expected/wordfreq-sample.out \
	examples/expected/wordfreq-generate.out \
	examples/expected/ptree.out \
	examples/expected/strbuild.out
