"""Holding a still in an H.264 stream without encoding it again (docs/outlets.md#micro-video, "Held stills").

The micro-video is a row of still pictures, each shown for a stretch of frames at a constant frame rate.
x264 spends as long on a frame that repeats the previous one as on a new picture, so the encoder is given
each still once (an IDR picture), and this module adds the repeats: P pictures in which every macroblock is
skipped, which a decoder shows as the previous picture unchanged. Such a picture is a slice header and one
number (the skip run), so it is written here from the encoder's own parameter sets, not encoded.

The syntax is ITU-T H.264's (the clauses named below); what this needs of the encoder's stream is checked
(one slice per picture, CAVLC, no weighted prediction, frames not fields) and anything else raises
``ValueError``, never a stream a player might misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

START = b"\x00\x00\x00\x01"
SPS, PPS, IDR, NON_IDR = 7, 8, 5, 1
# profile_idc values whose SPS carries chroma_format_idc and the bit depths (7.3.2.1.1)
_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def nal_units(stream: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream, without start codes or trailing zero bytes (B.1)."""
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", stream)]
    ends = [s - 3 for s in starts[1:]] + [len(stream)]
    return [stream[a:z].rstrip(b"\x00") for a, z in zip(starts, ends)]


def _rbsp(nal: bytes) -> bytes:
    """The payload of a NAL unit with the emulation prevention bytes taken out (7.4.1)."""
    return nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")


def _escape(rbsp: bytes) -> bytes:
    """Emulation prevention (7.4.1): after two zero bytes, a byte 0x00–0x03 gets a 0x03 before it."""
    out, zeros = bytearray(), 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes):
        self.value, self.size, self.pos = int.from_bytes(data, "big"), len(data) * 8, 0

    def u(self, n: int) -> int:
        self.pos += n
        if self.pos > self.size:
            raise ValueError("H.264 parameter set ends early")
        return (self.value >> (self.size - self.pos)) & ((1 << n) - 1)

    def ue(self) -> int:  # Exp-Golomb (9.1)
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


class _Writer:
    def __init__(self):
        self.value, self.size = 0, 0

    def u(self, n: int, x: int) -> None:
        self.value, self.size = (self.value << n) | x, self.size + n

    def ue(self, x: int) -> None:
        self.u(2 * (x + 1).bit_length() - 1, x + 1)

    def se(self, x: int) -> None:
        self.ue(2 * x - 1 if x > 0 else -2 * x)

    def rbsp(self) -> bytes:
        """The bits with rbsp_trailing_bits (7.3.2.11): a stop bit, then zeros to the byte."""
        self.u(1, 1)
        self.u(-self.size % 8, 0)
        return self.value.to_bytes(self.size // 8, "big")


@dataclass(frozen=True)
class Params:
    """What a P slice header needs from the sequence and picture parameter sets (7.3.2.1.1, 7.3.2.2)."""
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    macroblocks: int
    pps_id: int
    ref_idx_l0_default: int
    deblocking_control: bool


def parse_sps(nal: bytes) -> dict:
    r = _Reader(_rbsp(nal))
    profile = r.u(8)
    r.u(16)  # constraint flags, level_idc
    r.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        if r.ue() == 3:  # chroma_format_idc 4:4:4
            r.u(1)
        r.ue(), r.ue(), r.u(1)  # bit depths, qpprime_y_zero_transform_bypass_flag
        if r.u(1):
            raise ValueError("H.264 SPS with scaling matrices")
    log2_max_frame_num = r.ue() + 4
    poc_type = r.ue()
    if poc_type not in (0, 2):
        raise ValueError(f"H.264 pic_order_cnt_type {poc_type}")
    log2_max_poc_lsb = r.ue() + 4 if poc_type == 0 else 0
    r.ue(), r.u(1)  # max_num_ref_frames, gaps_in_frame_num_value_allowed_flag
    width, height = r.ue() + 1, r.ue() + 1
    if not r.u(1):
        raise ValueError("H.264 stream coded as fields")
    return {"log2_max_frame_num": log2_max_frame_num, "poc_type": poc_type, "log2_max_poc_lsb": log2_max_poc_lsb,
            "macroblocks": width * height}


def parse_pps(nal: bytes) -> dict:
    r = _Reader(_rbsp(nal))
    pps_id = r.ue()
    r.ue()  # seq_parameter_set_id
    cabac, bottom_field_poc = r.u(1), r.u(1)
    if cabac or bottom_field_poc:
        raise ValueError("H.264 PPS with CABAC or a bottom field order count")
    if r.ue():
        raise ValueError("H.264 PPS with slice groups")
    ref_idx_l0 = r.ue() + 1
    r.ue()  # num_ref_idx_l1_default_active_minus1
    weighted = r.u(1), r.u(2)
    if any(weighted):
        raise ValueError("H.264 PPS with weighted prediction")
    r.se(), r.se(), r.se()  # pic_init_qp, pic_init_qs, chroma_qp_index_offset
    deblocking, _constrained_intra, redundant = r.u(1), r.u(1), r.u(1)
    if redundant:
        raise ValueError("H.264 PPS with redundant pictures")
    return {"pps_id": pps_id, "ref_idx_l0_default": ref_idx_l0, "deblocking_control": bool(deblocking)}


def skip_picture(p: Params, frame_num: int, poc_lsb: int) -> bytes:
    """A P picture in which every macroblock is skipped (7.3.3 slice header, 7.3.4 slice data with CAVLC):
    the decoder shows the picture before it again. A reference picture (nal_ref_idc 2), so the next one
    refers to it in turn; sliding-window marking."""
    w = _Writer()
    w.ue(0)  # first_mb_in_slice
    w.ue(5)  # slice_type: P, as every slice of the picture
    w.ue(p.pps_id)
    w.u(p.log2_max_frame_num, frame_num % (1 << p.log2_max_frame_num))
    if p.poc_type == 0:
        w.u(p.log2_max_poc_lsb, poc_lsb % (1 << p.log2_max_poc_lsb))
    if p.ref_idx_l0_default == 1:
        w.u(1, 0)  # num_ref_idx_active_override_flag
    else:
        w.u(1, 1)
        w.ue(0)  # one reference: the picture before
    w.u(1, 0)  # ref_pic_list_modification_flag_l0
    w.u(1, 0)  # adaptive_ref_pic_marking_mode_flag
    w.se(0)  # slice_qp_delta
    if p.deblocking_control:
        w.ue(1)  # disable_deblocking_filter_idc: nothing is coded, nothing to smooth
    w.ue(p.macroblocks)  # mb_skip_run: all of them; no macroblock layer follows
    return START + bytes([0x41]) + _escape(w.rbsp())  # forbidden_zero_bit 0, nal_ref_idc 2, nal_unit_type 1


def hold(stream: bytes, frames: list[int]) -> bytes:
    """The encoder's stream of IDR pictures (one a still) with each picture held for its number of frames
    (``frames``, one count ≥ 1 a picture): the picture, then count − 1 skipped pictures. Parameter sets
    that repeat the first ones unchanged are left out (the container carries them once)."""
    out, pending, seen = bytearray(), [], set()
    sps = pps = None
    pictures = 0
    for nal in nal_units(stream):
        kind = nal[0] & 0x1F
        if kind in (SPS, PPS):
            if kind == SPS:
                sps = parse_sps(nal)
            else:
                pps = parse_pps(nal)
            if nal in seen:
                continue
            seen.add(nal)
        pending.append(nal)
        if kind == NON_IDR:
            raise ValueError("H.264 stream with a picture that is not an IDR picture")
        if kind != IDR:
            continue
        if pictures >= len(frames) or sps is None or pps is None:
            raise ValueError("H.264 stream with more pictures than stills, or without parameter sets")
        if nal[1] & 0x80 == 0:  # first_mb_in_slice is ue(v) 0, a single "1" bit, only for a picture's first slice
            raise ValueError("H.264 picture in more than one slice")
        out += b"".join(START + n for n in pending)
        pending = []
        params = Params(**sps, **pps)
        out += b"".join(skip_picture(params, k, 2 * k) for k in range(1, frames[pictures]))
        pictures += 1
    if pictures != len(frames):
        raise ValueError(f"H.264 stream with {pictures} pictures for {len(frames)} stills")
    return bytes(out)
