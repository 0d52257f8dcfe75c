#!/usr/bin/env python3
"""Prints the X-Retell-Signature value Retell's official Python SDK makes for a body.

Usage: python3 sign.py --key API_KEY [--timestamp MS] < body

The body is read from stdin as raw bytes and decoded as UTF-8, because the SDK signs a str
(it encodes it back to UTF-8 itself). Without --timestamp the SDK stamps the current time,
as Retell does when it sends a webhook. Exit 77 means the SDK is not installed, so the Rust
test can tell "cannot check" (a skip) from "the SDK disagrees" (a failure).
"""

import argparse
import sys

try:
    # `sign` is not re-exported by retell.lib (only `verify` is); it lives in the module's
    # `symmetric` table, which the SDK's own `verify` uses too.
    from retell.lib import webhook_auth
except ImportError as err:
    print(f"retell-sdk not importable: {err}", file=sys.stderr)
    sys.exit(77)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="the Retell webhook API key")
    parser.add_argument("--timestamp", type=int, help="unix ms; default: now (SDK clock)")
    args = parser.parse_args()
    body = sys.stdin.buffer.read().decode("utf-8")
    print(webhook_auth.symmetric["sign"](body, args.key, args.timestamp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
