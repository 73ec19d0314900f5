#!/usr/bin/env python3
"""test-layers.py: the include rules of docs/ARCHITECTURE.md, checked on the source tree (TAP)."""
import os
import re
import sys

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'src')
CORE = os.path.join(SRC, 'core')

# client → protocol → signaling | webrtc → store | codec → model → base
RANK = {'base': 0, 'model': 1, 'codec': 2, 'store': 2, 'signaling': 3, 'webrtc': 3,
        'protocol': 4, 'client': 5}
INCLUDE = re.compile(r'^\s*#\s*include\s+"(natter-[^"]+\.h)"', re.M)
# What the UI and the CLI reach only through NatterClient.
FACADE_ONLY = ('natter-store.h', 'natter-signaling.h', 'natter-peer-session.h', 'natter-chat-frame.h')


def sources(top, exts=('.c', '.h')):
    for root, _dirs, files in os.walk(top):
        for name in sorted(files):
            if name.endswith(exts):
                yield os.path.join(root, name)


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def header_layers():
    where = {}
    for path in sources(CORE, ('.h',)):
        where[os.path.basename(path)] = os.path.basename(os.path.dirname(path))
    return where


def check_core_layers():
    where = header_layers()
    bad = []
    for path in sources(CORE):
        layer = os.path.basename(os.path.dirname(path))
        if layer not in RANK:
            bad.append('%s: not in a layer folder' % path)
            continue
        for header in INCLUDE.findall(read(path)):
            other = where.get(header)
            if other is None:
                bad.append('%s includes %s, which is not in src/core' % (path, header))
            elif other != layer and RANK[other] >= RANK[layer]:
                bad.append('%s (%s) includes %s (%s)' % (os.path.relpath(path, SRC), layer, header, other))
    return bad


def check_facade():
    bad = []
    for part in ('ui', 'cli'):
        for path in sources(os.path.join(SRC, part)):
            for header in INCLUDE.findall(read(path)):
                if header in FACADE_ONLY:
                    bad.append('%s includes %s: use NatterClient' % (os.path.relpath(path, SRC), header))
    return bad


def check_preferences():
    path = os.path.join(SRC, 'ui', 'natter-preferences-window.c')
    if not os.path.exists(path):
        return []
    return ['%s calls %s' % (os.path.relpath(path, SRC), m)
            for m in sorted(set(re.findall(r'natter_application_\w+', read(path))))]


def check_threads():
    allowed = os.path.join('base', 'natter-inbox.c')
    pattern = re.compile(r'GMutex|g_mutex_|g_idle_source_new')
    return ['%s uses %s: post to a NatterInbox instead' % (os.path.relpath(path, SRC), m.group(0))
            for path in sources(CORE)
            if not path.endswith(allowed)
            for m in [pattern.search(read(path))] if m]


CHECKS = [
    ('core folders include only lower layers; signaling and webrtc never each other', check_core_layers),
    ('ui and cli reach the store, signaling and sessions only through NatterClient', check_facade),
    ('the preferences window does not call the application', check_preferences),
    ('only base/natter-inbox.c hands work across threads', check_threads),
]

print('1..%d' % len(CHECKS))
failed = 0
for number, (name, check) in enumerate(CHECKS, 1):
    bad = check()
    print('%s %d - %s' % ('not ok' if bad else 'ok', number, name))
    for line in bad:
        print('# ' + line)
    failed += bool(bad)
sys.exit(1 if failed else 0)
