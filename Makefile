# The two commands that matter: `make run` and `make test`.
# See README.md.

BUILD     ?= build
MODULE     = $(BUILD)/ngx_http_hotkey_module.so
CC        ?= cc
UNIT_CFLAGS = -g -O1 -Wall -Wextra -Werror -Isrc -Itools -It/unit \
              $(UNIT_EXTRA)
LIBS       = -lcjson -lhiredis -lssl -lcrypto -pthread

PLAIN_SRCS = $(wildcard src/hotkey_*.c)
# signing code for hotkeyctl and the tests, kept out of the module
TOOL_SRCS  = $(wildcard tools/hotkey_*.c)
UNIT_SRCS  = $(wildcard t/unit/test_*.c)
UNIT_BINS  = $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
CLI_SRCS   = $(wildcard tools/*.c)

ANALYZER      = $(BUILD)/hotkey-analyzer
ANALYZER_SRCS = $(wildcard analyzer/*.c)
ANALYZER_LUA  = analyzer/lua/take.lua analyzer/lua/renew.lua \
                analyzer/lua/finish.lua
ANALYZER_USES = src/hotkey_codec.c src/hotkey_time.c src/hotkey_num.c \
                src/hotkey_scripts.c src/hotkey_json.c src/hotkey_cluster.c \
                tools/hotkey_store_client.c tools/hotkey_tls.c

.PHONY: all build deps unit cli analyzer test run stop clean bench fuzz \
        sanitize valgrind rss faults analyzer-bench deb

all: build

deps:
	@scripts/deps.sh

build: deps
	@scripts/build.sh $(BUILD)

$(BUILD)/unit/%: t/unit/%.c $(PLAIN_SRCS) $(TOOL_SRCS) $(wildcard src/*.h) \
                 $(wildcard tools/*.h) $(wildcard t/unit/*.h)
	@mkdir -p $(BUILD)/unit
	@$(CC) $(UNIT_CFLAGS) -o $@ $< $(PLAIN_SRCS) $(TOOL_SRCS) $(LIBS)

# the analyzer's pure parts (test_hka_*): with what they use
UNIT_HKA   = analyzer/creds.c

$(BUILD)/unit/test_hka_%: t/unit/test_hka_%.c $(UNIT_HKA) $(PLAIN_SRCS) \
                          $(TOOL_SRCS) $(wildcard analyzer/*.h) \
                          $(wildcard src/*.h) $(wildcard tools/*.h) \
                          $(wildcard t/unit/*.h)
	@mkdir -p $(BUILD)/unit
	@$(CC) $(UNIT_CFLAGS) -Ianalyzer -o $@ $< $(UNIT_HKA) $(PLAIN_SRCS) \
	    $(TOOL_SRCS) $(LIBS)

unit: $(UNIT_BINS)

cli: $(BUILD)/hotkeyctl

$(BUILD)/hotkeyctl: $(CLI_SRCS) $(PLAIN_SRCS) $(wildcard src/*.h) \
                    $(wildcard tools/*.h)
	@mkdir -p $(BUILD)
	@if [ -n "$(CLI_SRCS)" ]; then \
	    $(CC) $(UNIT_CFLAGS) -o $@ $(CLI_SRCS) $(PLAIN_SRCS) $(LIBS); \
	fi

analyzer: $(ANALYZER)

$(BUILD)/analyzer/hka_lua.h: $(ANALYZER_LUA) analyzer/lua.sh
	@mkdir -p $(BUILD)/analyzer
	@analyzer/lua.sh $(ANALYZER_LUA) >$@.new && mv $@.new $@

$(ANALYZER): $(ANALYZER_SRCS) $(wildcard analyzer/*.h) $(ANALYZER_USES) \
             src/hotkey_cluster.h tools/hotkey_store_client.h \
             tools/hotkey_tls.h $(BUILD)/analyzer/hka_lua.h
	@$(CC) $(UNIT_CFLAGS) -O2 -pthread -Ianalyzer -I$(BUILD)/analyzer \
	    -o $@ $(ANALYZER_SRCS) $(ANALYZER_USES) -lhiredis -lssl -lcrypto

test: build unit cli analyzer
	@scripts/test-deps.sh
	prove -r t/

# Debian packages (debian/) into $(BUILD)/deb/, built from a copy of the tree
deb: deps
	@scripts/deb.sh $(BUILD)/deb

run: build cli analyzer
	@scripts/run.sh

stop:
	@scripts/stop.sh

# the write baselines' Redis client (bench/rcall.c)
$(BUILD)/rcall: bench/rcall.c
	@mkdir -p $(BUILD)
	@$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -lhiredis

bench: build cli $(BUILD)/rcall
	bench/run.sh
	perl bench/cluster.pl
	perl bench/tls.pl

fuzz: cli
	fuzz/run.sh

sanitize: cli
	scripts/sanitize.sh

valgrind: build cli
	scripts/valgrind.sh

rss: build cli
	scripts/rss.sh

faults: build cli
	scripts/faults.sh
	perl scripts/faults-cluster.pl

analyzer-bench: analyzer
	bench/analyzer.sh

clean:
	rm -rf $(BUILD)
