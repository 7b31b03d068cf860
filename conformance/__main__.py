"""`make conformance`: every shared suite, reported per file and per category.

    python -m conformance [--no-audio]

Text normalization and SSML validity are pure; SSML behaviour loads the Piper engine in this
process and measures the audio it makes (about half a minute on one core).
"""

from __future__ import annotations

import argparse
import sys

from conformance import behaviour, ssml, textnorm
from conformance.paths import suite_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance")
    parser.add_argument("--no-audio", action="store_true", help="skip the audio behaviour run")
    args = parser.parse_args(argv)
    directory = suite_dir()
    if not directory.is_dir():
        print(f"no conformance suites at {directory} (set CONFORMANCE_DIR)", file=sys.stderr)
        return 2
    print(textnorm.format_report(textnorm.run_textnorm()))
    print()
    print(ssml.format_report(ssml.run_ssml_validity()))
    if not args.no_audio:
        from synthesis.engines.loader import load_engine

        engine = load_engine("piper", noise_scale=0.0, noise_w_scale=0.0)
        engine.warm_up()
        print()
        print(behaviour.format_report(behaviour.run_behaviour(engine)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
