# pylibmc_pg: PGXS build.  `make`, `make install`, `make installcheck`.

EXTENSION = pylibmc_pg
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = pylibmc_pg
OBJS = \
	src/admin.o \
	src/client.o \
	src/codec.o \
	src/config.o \
	src/counters.o \
	src/guc.o \
	src/invalidate.o \
	src/multi.o \
	src/reads.o \
	src/stats.o \
	src/value.o \
	src/writes.o

DATA = $(EXTENSION)--$(EXTVERSION).sql
PGFILEDESC = "pylibmc_pg - memcached client with the pylibmc API"

# every sql/NAME.sql is a regression test, run in name order; each is independent
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CPPFLAGS = -I$(srcdir)/src
# -Wextra, minus the two warnings PostgreSQL's own headers and fmgr style trip
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = -lmemcached -ldeflate -lz

EXTRA_CLEAN = regression.diffs regression.out results

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
