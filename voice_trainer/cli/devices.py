"""``voice-trainer devices``: the audio devices PortAudio can use, and which are the defaults."""

from __future__ import annotations

import argparse

from ..audio.devices import DeviceError, list_devices
from .common import print_json_line


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "devices",
        help="list audio input/output devices",
        description="List the audio devices (index, name, input/output channels, native rate, defaults). "
        "Pass the index or part of the name to --input-device/--output-device.",
    )
    p.add_argument("--json", action="store_true", help="print the list as one JSON array")
    p.set_defaults(run=run)


def format_table(devices: list) -> str:
    width = max([len("name")] + [len(d.name) for d in devices])
    lines = [f"{'#':>3}  {'name':<{width}}  {'in':>3}  {'out':>3}  {'rate Hz':>7}  default"]
    for d in devices:
        default = ", ".join(k for k, v in (("input", d.is_default_input), ("output", d.is_default_output)) if v)
        lines.append(
            f"{d.index:>3}  {d.name:<{width}}  {d.max_input_channels:>3}  {d.max_output_channels:>3}  "
            f"{d.default_samplerate_hz:>7.0f}  {default}".rstrip()
        )
    return "\n".join(lines)


NO_DEVICES = (
    "no audio device found: no sound card, or the sound server (PulseAudio/PipeWire) is not running or not "
    "reachable; start it (e.g. `pulseaudio --start`) or plug in a device, then list again; without audio devices "
    "try `voice-trainer demo` or `voice-trainer practice --answers A1.wav A2.wav ...`"
)


def run(args: argparse.Namespace) -> int:
    devices = list_devices()
    if not devices:
        if args.json:
            print_json_line([])  # still valid JSON for scripts; the exit status says there is nothing to use
        raise DeviceError(NO_DEVICES)
    if args.json:
        print_json_line([d.to_dict() for d in devices])
    else:
        print(format_table(devices))
    return 0
