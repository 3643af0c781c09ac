"""Device models: the JSON files load, cite their sources and hold the data-sheet numbers."""

import json

import pytest

from intar.scheduling.device import DEVICES_DIR, available_devices, device_from_dict, load_device


def test_known_devices() -> None:
    assert {"u280", "vpk180", "tiny"} <= set(available_devices())


@pytest.mark.parametrize("name", ["u280", "vpk180", "tiny"])
def test_every_device_is_complete(name: str) -> None:
    dev = load_device(name)
    assert dev.sources and all(isinstance(s, str) and s for s in dev.sources)
    assert dev.dsp > 0 and dev.bram36.count > 0 and dev.offchip.channels > 0
    assert dev.bram36.ports == 2 and dev.bram36.width_bits == 72
    assert dev.uram.ports == 2 and dev.uram.width_bits == 72
    assert dev.offchip.bytes_per_cycle * 8 <= dev.offchip.width_bits
    assert dev.max_logic_levels > 0 and dev.max_fifo_depth >= 2
    assert dev.clock_mhz > 0


def test_u280_numbers() -> None:
    dev = load_device("u280")
    assert (dev.dsp, dev.bram36.count, dev.uram.count, dev.slrs) == (9024, 2016, 960, 3)
    off = dev.offchip
    assert (off.channels, off.width_bits) == (32, 256)
    # 256 bit x 450 MHz = 14.4 GB/s per pseudo-channel
    assert off.width_bits / 8 * off.channel_clock_mhz * 1e6 == pytest.approx(14.4e9)
    assert off.peak_gbytes_per_s == pytest.approx(14.4)
    # the kernel-side port moves one 256-bit beat per kernel cycle, under the channel peak
    assert off.bytes_per_cycle * dev.clock_mhz * 1e6 <= off.peak_gbytes_per_s * 1e9
    assert dev.max_logic_levels == 8
    # usable bytes: BRAM36 512 x 64 data bits, URAM 4096 x 64 data bits
    assert dev.onchip_bytes == 2016 * 4096 + 960 * 32768
    assert any("DS963" in s for s in dev.sources) and any("UG1314" in s for s in dev.sources)


def test_int8_packing() -> None:
    dev = load_device("u280")
    assert dev.macs_per_dsp(16) == 1 and dev.macs_per_dsp(8) == 2


def test_load_by_path_and_errors(tmp_path) -> None:
    data = json.loads((DEVICES_DIR / "tiny.json").read_text())
    p = tmp_path / "mine.json"
    p.write_text(json.dumps(data))
    assert load_device(p).name == "tiny"
    with pytest.raises(ValueError):
        load_device("no_such_device")
    bad = dict(data, sources=[])
    with pytest.raises(ValueError):
        device_from_dict(bad)
    bad = dict(data, offchip=dict(data["offchip"], bytes_per_cycle=1000))
    with pytest.raises(ValueError):
        device_from_dict(bad)
