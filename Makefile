# dynox - one Makefile for the library, the job runner, the CLI, tests and benchmarks.
#
#   make            libdynox.a and the dynox binary (build/)
#   make test       installs what is missing (make deps), builds, runs every test
#   make asan       the same tests under AddressSanitizer + UBSan (build/asan/)
#   make bench      benchmarks; they print ratios against baselines measured in the same run
#   make bench-peers  dynox against boto3 and the AWS SDK for JavaScript (writes bench/RESULTS.md)
#   make demo       installs, builds and runs the demo on the memory backend
#   make deps       installs the Debian and npm packages the build and tests need
#   make clean
#   V=1             show full command lines

Q := $(if $(V),,@)
BUILD ?= build
CC ?= cc
AR ?= ar
OPT ?= -O2

PKGS := libcurl libcrypto libzstd libcjson
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wformat=2 -Wvla -Wundef -Wno-format-nonliteral
CFLAGS_ALL = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -g $(OPT) $(WARN) -fno-common \
             -MMD -MP -Ilib/include $(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -ldl -lm $(SANFLAGS) $(LDFLAGS)

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
endif

LIB_SRC  := $(wildcard lib/*.c)
JOBS_SRC := $(wildcard jobs/*.c)
CMD_SRC  := $(wildcard cmd/*.c)
TSUP_SRC := $(wildcard tests/support/*.c)
TEST_SRC := $(wildcard tests/lib/test_*.c tests/jobs/test_*.c tests/cmd/test_*.c tests/integration/test_*.c)
SAMP_SRC := $(wildcard samples/*.c)
BENCH_SRC := $(wildcard bench/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIB_OBJ  := $(call obj,$(LIB_SRC))
JOBS_OBJ := $(call obj,$(JOBS_SRC))
CMD_OBJ  := $(call obj,$(CMD_SRC))
TSUP_OBJ := $(call obj,$(TSUP_SRC))
TEST_BIN := $(patsubst %.c,$(BUILD)/%,$(TEST_SRC))
SAMP_BIN := $(patsubst %.c,$(BUILD)/%,$(SAMP_SRC))
BENCH_BIN := $(patsubst %.c,$(BUILD)/%,$(BENCH_SRC))
ALL_OBJ := $(LIB_OBJ) $(JOBS_OBJ) $(CMD_OBJ) $(TSUP_OBJ) $(call obj,$(TEST_SRC) $(SAMP_SRC) $(BENCH_SRC))

LIBDYNOX := $(BUILD)/libdynox.a
LIBJOBS  := $(BUILD)/libdynoxjobs.a
DYNOX    := $(BUILD)/dynox

.PHONY: all test check asan bench bench-peers demo deps clean tests samples benches
.DEFAULT_GOAL := all

all: $(LIBDYNOX) $(if $(CMD_SRC),$(DYNOX))

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c -o $@ $<

# Tests may include the library's internal headers.
$(BUILD)/tests/%.o: CFLAGS_ALL += -Ilib -Ijobs -Icmd -Itests/support
$(BUILD)/bench/%.o: CFLAGS_ALL += -Ilib -Ijobs -Itests/support
$(BUILD)/cmd/%.o: CFLAGS_ALL += -Ijobs
$(BUILD)/jobs/%.o: CFLAGS_ALL += -Ijobs
$(BUILD)/samples/%.o: CFLAGS_ALL += -Ijobs

$(LIBDYNOX): $(LIB_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBJOBS): $(JOBS_OBJ)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# Hook plugins (jobs/plugin.h) are shared libraries that call back into
# libdynox: the binary exports every library symbol (-rdynamic, whole archive).
EXPORT_LIBDYNOX = -rdynamic -Wl,--whole-archive $(LIBDYNOX) -Wl,--no-whole-archive

$(DYNOX): $(CMD_OBJ) $(LIBJOBS) $(LIBDYNOX)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $(CMD_OBJ) $(LIBJOBS) $(EXPORT_LIBDYNOX) $(LDLIBS_ALL)

# Library tests link only the library; the others get the job runner too.
LIB_TEST_BIN := $(filter $(BUILD)/tests/lib/%,$(TEST_BIN))
$(LIB_TEST_BIN): $(BUILD)/%: $(BUILD)/%.o $(TSUP_OBJ) $(LIBDYNOX)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $< $(TSUP_OBJ) $(LIBDYNOX) $(CMOCKA_LIBS) $(LDLIBS_ALL)

$(filter-out $(LIB_TEST_BIN),$(TEST_BIN)): $(BUILD)/%: $(BUILD)/%.o $(TSUP_OBJ) $(LIBJOBS) $(LIBDYNOX)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $< $(TSUP_OBJ) $(LIBJOBS) $(EXPORT_LIBDYNOX) $(CMOCKA_LIBS) $(LDLIBS_ALL)

$(SAMP_BIN): $(BUILD)/%: $(BUILD)/%.o $(LIBJOBS) $(LIBDYNOX)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $< $(LIBJOBS) $(LIBDYNOX) $(LDLIBS_ALL)

# bench_ddb starts dynalite the way the tests do (tests/support/proc.c).
$(BENCH_BIN): $(BUILD)/%: $(BUILD)/%.o $(BUILD)/tests/support/proc.o $(LIBJOBS) $(LIBDYNOX)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $< $(BUILD)/tests/support/proc.o $(LIBJOBS) $(LIBDYNOX) $(LDLIBS_ALL)

tests: all $(TEST_BIN)
samples: $(SAMP_BIN)
benches: all $(BENCH_BIN)

# `test` and `demo` first install what is missing, then build in a fresh make
# so that pkg-config sees the packages deps just installed.
test: deps
	$(Q)$(MAKE) --no-print-directory check

check: tests
	$(Q)BUILD=$(BUILD) scripts/run-tests.sh $(TEST_BIN)

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check

bench: deps
	$(Q)$(MAKE) --no-print-directory benches
	$(Q)BUILD=$(BUILD) scripts/run-bench.sh

# The comparison with boto3 and the JS SDK on local endpoints (dynalite, bench/sink.c);
# bench/peers/run.sh installs the peers it needs. Minutes, not part of `make test`.
bench-peers: deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/bench/sink $(BUILD)/bench/dynox_peer
	$(Q)BUILD=$(BUILD) bench/peers/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all samples
	$(Q)scripts/demo.sh

deps:
	$(Q)scripts/deps.sh

clean:
	rm -rf build

-include $(ALL_OBJ:.o=.d)
