#!/usr/bin/env python3
"""Asks Retell's official Python SDK whether a signature is valid for a body.

Usage: python3 verify.py --key API_KEY --signature 'v=...,d=...' [--now MS] < body

Exit 0 if the SDK accepts it, 1 if it rejects it, 77 if the SDK is not installed. Without
--now this is the SDK's public `retell.lib.verify` (real clock, 5-minute window); --now pins
the clock through the same verifier's `timestamp` option so fixed test vectors can be checked.
"""

import argparse
import sys

try:
    from retell.lib import verify, webhook_auth
except ImportError as err:
    print(f"retell-sdk not importable: {err}", file=sys.stderr)
    sys.exit(77)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="the Retell webhook API key")
    parser.add_argument("--signature", required=True, help="the X-Retell-Signature value")
    parser.add_argument("--now", type=int, help="unix ms to verify at; default: real clock")
    args = parser.parse_args()
    body = sys.stdin.buffer.read().decode("utf-8")
    if args.now is None:
        ok = verify(body, args.key, args.signature)
    else:
        ok = webhook_auth.symmetric["verify"](body, args.key, args.signature, {"timestamp": args.now})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
