"""Generates one canary file for the parsing benchmarks (bench/parse.sh, bench/yaml.sh).

usage: python3 gen_canary.py KIND N FILE
  KIND: tags (N map keys), items (N list items), api (N API steps, each using the value the one
  before extracts), bad (N tags whose values are lists: one problem each), alias-bomb (N levels
  of lists of 9 aliases to the level below), deep (N nested flow lists)
"""
import sys
kind, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = "blueprint: heartbeat\nschedule: rate(5 minutes)\n"
if kind == "tags":
    body = "tags:\n" + "".join(f"  tag{i}: value{i}\n" for i in range(n))
    body += "heartbeat:\n  urls: ['http://127.0.0.1:9/']\n"
elif kind == "items":
    body = "heartbeat:\n  urls:\n" + "".join(f"    - http://127.0.0.1:9/page{i}\n" for i in range(n))
elif kind == "api":
    head = "blueprint: api\nschedule: rate(5 minutes)\n"
    steps = "".join(
        f"    - name: s{i}\n      request: {{url: 'http://127.0.0.1:9/${{v{i - 1}}}'}}\n"
        f"      extract: {{v{i}: header etag}}\n" if i else
        "    - name: s0\n      request: {url: 'http://127.0.0.1:9/'}\n      extract: {v0: header etag}\n"
        for i in range(n)
    )
    body = "api:\n  steps:\n" + steps
elif kind == "alias-bomb":
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, n + 1)]
    head = ""
    body = "\n".join(lines) + "\n"
elif kind == "deep":
    head = ""
    body = "tags: " + "[" * n + "]" * n + "\n"
else:  # bad values
    body = "tags:\n" + "".join(f"  tag{i}: [not, a, string]\n" for i in range(n))
    body += "heartbeat:\n  urls: ['http://127.0.0.1:9/']\n"
open(path, "w").write(head + body)
