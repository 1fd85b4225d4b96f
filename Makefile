# pylibmc_pg: PGXS build.  `make`, `make install`, `make installcheck`.

EXTENSION = pylibmc_pg
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = pylibmc_pg
OBJS = \
	src/admin.o \
	src/client.o \
	src/cluster_stats.o \
	src/codec.o \
	src/config.o \
	src/counters.o \
	src/credentials.o \
	src/exchange.o \
	src/guard.o \
	src/guc.o \
	src/inval_log.o \
	src/inval_queue.o \
	src/inval_replay.o \
	src/inval_send.o \
	src/inval_trigger.o \
	src/keys.o \
	src/lease.o \
	src/module.o \
	src/multi.o \
	src/reads.o \
	src/stats.o \
	src/value.o \
	src/writes.o

# No full script of the default version: CREATE EXTENSION installs 1.0 and
# applies the update scripts from it (as contrib modules do), so a fresh
# install and ALTER EXTENSION UPDATE run the same statements.
DATA = $(EXTENSION)--1.0.sql $(EXTENSION)--1.0--1.1.sql $(EXTENSION)--1.1--1.2.sql
PGFILEDESC = "pylibmc_pg - memcached client with the pylibmc API"

# every sql/NAME.sql is a regression test, run in name order; each is independent.
# Most need the servers tools/test.sh starts (its environment has PMC_SCRATCH).
# Without it, as a packager runs it against a running server, `make
# installcheck` runs those that need only a memcached at 127.0.0.1:11211.
REGRESS_ALL = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_DEFAULT_SERVER = binary namespace types
REGRESS = $(if $(PMC_SCRATCH),$(REGRESS_ALL),$(REGRESS_DEFAULT_SERVER))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# libmemcached: Debian's 1.1.4 source with our patches (patches/libmemcached),
# built by tools/libmemcached.sh into build/libmemcached and linked statically
# with its symbols hidden (--exclude-libs), so that a library in the same
# backend that loads the system's libmemcached.so.11 (pgmemcache) keeps its own.
LMC_PREFIX = $(abspath $(srcdir))/build/libmemcached
LMC_LIBS = $(LMC_PREFIX)/lib/libmemcached.a $(LMC_PREFIX)/lib/libhashkit.a $(LMC_PREFIX)/lib/libp9y.a

PG_CPPFLAGS = -I$(LMC_PREFIX)/include -I$(srcdir)/src
# -Wextra, minus the two warnings PostgreSQL's own headers and fmgr style trip
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = $(LMC_LIBS) -Wl,--exclude-libs,ALL -lsasl2 -lcrypto -lstdc++ -ldeflate -lz

EXTRA_CLEAN = regression.diffs regression.out results

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The Perl TAP suites (test/t/*.pl, on PostgreSQL::Test::Cluster), through
# PGXS's prove_installcheck, against the installed extension (nodes and
# memcacheds of their own; run as a user other than root, with memcached,
# python3 and what each file names at its top installed):
#   make prove_installcheck                   every test/t/*.pl (as pgvector)
#   make prove_installcheck PROVE_TESTS=test/t/000_pmcfleet.pl
#   make installcheck TAP_TESTS=1             the regression tests, then those
# TAP_TESTS is not set here, so a plain `make installcheck` (and
# tools/test.sh's regression step) runs pg_regress only; tools/test.sh runs
# each Perl file with prove itself.
PROVE_TESTS ?= test/t/*.pl
EXTRA_CLEAN += tmp_check

# make check-layers: every file of src/ includes only headers of its own
# layer or below (src/README); tools/test.sh counts it as a test.
check-layers:
	bash $(srcdir)/tools/check-layers.sh $(srcdir)/src

# make dist: the release archive, PGXN style: NAME-VERSION.zip (VERSION from
# META.json) with one top directory, made by git archive from the committed
# tree (HEAD), so uncommitted changes and untracked files are not in it.
DISTVERSION = $(shell sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' $(srcdir)/META.json | head -n 1)
DIST_DIR ?= .
dist:
	git -C $(srcdir) archive --format=zip --prefix=$(EXTENSION)-$(DISTVERSION)/ \
		-o $(abspath $(DIST_DIR))/$(EXTENSION)-$(DISTVERSION).zip HEAD

# after PGXS: its Makefile.global sets PG_PROVE_FLAGS (its test/perl and
# srcdir); the suites' own modules are in test/lib
PG_PROVE_FLAGS += -I $(abspath $(srcdir))/test/lib

prove_installcheck:
	$(prove_installcheck)

.PHONY: dist check-layers prove_installcheck

# every object needs the patched headers; the stamp changes with the patches
$(OBJS) $(OBJS:.o=.bc): $(LMC_PREFIX)/.stamp
$(LMC_PREFIX)/.stamp: $(srcdir)/tools/libmemcached.sh $(srcdir)/patches/libmemcached/series \
		$(wildcard $(srcdir)/patches/libmemcached/*.patch)
	bash $(srcdir)/tools/libmemcached.sh $(LMC_PREFIX)
	touch $@
