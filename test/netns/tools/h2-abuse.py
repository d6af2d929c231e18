# Hostile HTTP/2 (h2c prior knowledge) clients for test/netns/l7-malformed.test.ts, run inside a
# pod: a bad frame right after the preface, a garbage preface, an HPACK bomb, an oversized header
# list, a RST_STREAM flood, bodies longer than their content-length, and a plain GET; each prints
# one JSON line of what the server sent back.
# Usage: python3 h2-abuse.py MODE HOST PORT [N]

import json
import socket
import struct
import sys
import time

from hpack import Encoder

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TYPES = {0: "DATA", 1: "HEADERS", 3: "RST_STREAM", 4: "SETTINGS", 6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def settings(pairs=()):
    return frame(4, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def request_block(enc, path, extra=()):
    return enc.encode([(":method", "GET"), (":scheme", "http"), (":authority", HOST), (":path", path)] + list(extra))


def hpack_int(value, prefix_bits, first):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def read_frames(sock, until_s, stop):
    """Frames until the server closes, `stop(frames)` is true or `until_s` seconds pass."""
    frames, buf, closed = [], b"", False
    deadline = time.time() + until_s
    while time.time() < deadline and not stop(frames):
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            d = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not d:
            closed = True
            break
        buf += d
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            ftype, flags, sid = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload = buf[9 : 9 + n]
            buf = buf[9 + n :]
            f = {"type": TYPES.get(ftype, ftype), "flags": flags, "stream": sid}
            if ftype == 7:
                f["code"] = int.from_bytes(payload[4:8], "big")
                f["last"] = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
                f["debug"] = payload[8:].decode("latin1")
            elif ftype == 3:
                f["code"] = int.from_bytes(payload[:4], "big")
            elif ftype == 1:
                f["status"] = status_of(payload, flags)
            frames.append(f)
    if not closed:
        # did the server close after its last frame? (drain what follows a GOAWAY for up to 2 s)
        end = time.time() + (2 if any(f["type"] == "GOAWAY" for f in frames) else 0.3)
        while time.time() < end:
            sock.settimeout(max(0.05, end - time.time()))
            try:
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
    return frames, closed


DECODER = None


def status_of(block, flags):
    # responses from the proxy are small; decode with one shared decoder (HPACK state is per connection)
    try:
        if flags & 0x8:  # PADDED
            block = block[1 : len(block) - block[0]]
        if flags & 0x20:  # PRIORITY
            block = block[5:]
        return dict(DECODER.decode(block)).get(":status", "")
    except Exception as e:  # noqa: BLE001 - report, never crash the tool
        return f"undecodable: {e}"


def connect():
    s = socket.create_connection((HOST, PORT), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def run(mode, n):
    global DECODER
    from hpack import Decoder

    DECODER = Decoder()
    DECODER.max_header_list_size = 1 << 30
    enc = Encoder()
    s = connect()
    t0 = time.time()
    goaway = lambda fs: any(f["type"] == "GOAWAY" for f in fs)  # noqa: E731
    if mode == "bad-preface":
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + b"\x00" * 32)
        frames, closed = read_frames(s, 3, goaway)
    elif mode == "bad-first-frame":
        # a valid preface, then a PING instead of the SETTINGS frame every client must send first
        s.sendall(PREFACE + frame(6, 0, 0, b"12345678"))
        frames, closed = read_frames(s, 3, goaway)
    elif mode == "hpack-bomb":
        # one 4,000-byte header into the dynamic table, then referenced `n` times (one byte each)
        value = b"a" * 4000
        block = request_block(enc, "/bomb")
        block += b"\x40" + hpack_int(6, 7, 0) + b"x-bomb" + hpack_int(len(value), 7, 0) + value
        block += bytes([0x80 | 62]) * n
        s.sendall(PREFACE + settings() + headers_frames(1, block))
        frames, closed = read_frames(s, 5, lambda fs: goaway(fs) or any(f["stream"] == 1 and f["type"] in ("HEADERS", "RST_STREAM") for f in fs))
    elif mode == "oversized":
        block = request_block(enc, "/big", [("x-big", "b" * n)])
        s.sendall(PREFACE + settings() + headers_frames(1, block))
        frames, closed = read_frames(s, 5, lambda fs: goaway(fs) or any(f["stream"] == 1 and f["type"] in ("HEADERS", "RST_STREAM") for f in fs))
    elif mode == "rst-flood":
        out = [PREFACE, settings()]
        for i in range(n):
            sid = 1 + 2 * i
            out.append(frame(1, END_STREAM | END_HEADERS, sid, request_block(enc, f"/flood/{i}")))
            out.append(frame(3, 0, sid, struct.pack(">I", 8)))  # CANCEL
        try:
            s.sendall(b"".join(out))
        except (BrokenPipeError, ConnectionResetError):
            pass
        frames, closed = read_frames(s, 5, goaway)
    elif mode == "cl-mismatch":
        # `n` POSTs announcing content-length 3 and sending 6 bytes (a malformed stream, RFC 9113
        # §8.1.1), one at a time, then a GET on the same connection
        frames = []
        for i in range(n):
            sid = 1 + 2 * i
            block = enc.encode([(":method", "POST"), (":scheme", "http"), (":authority", HOST), (":path", f"/cl/{i}"), ("content-length", "3")])
            s.sendall((PREFACE + settings() if i == 0 else b"") + frame(1, END_HEADERS, sid, block) + frame(0, END_STREAM, sid, b"abcdef"))
            got, closed = read_frames(s, 3, lambda fs, sid=sid: any(f["stream"] == sid and f["type"] == "RST_STREAM" for f in fs))
            frames += got
        sid = 1 + 2 * n
        s.sendall(frame(1, END_STREAM | END_HEADERS, sid, request_block(enc, "/after")))
        got, closed = read_frames(s, 5, lambda fs: any(f["stream"] == sid and f["type"] == "DATA" and f["flags"] & END_STREAM for f in fs))
        frames += got
    elif mode == "get":
        s.sendall(PREFACE + settings() + frame(1, END_STREAM | END_HEADERS, 1, request_block(enc, "/after")))
        frames, closed = read_frames(s, 5, lambda fs: any(f["stream"] == 1 and f["type"] == "DATA" and f["flags"] & END_STREAM for f in fs))
    else:
        raise SystemExit(f"unknown mode {mode}")
    s.close()
    kinds = {}
    for f in frames:
        kinds[f["type"]] = kinds.get(f["type"], 0) + 1
    away = next((f for f in frames if f["type"] == "GOAWAY"), None)
    statuses = [f["status"] for f in frames if f["type"] == "HEADERS"]
    resets = [f["code"] for f in frames if f["type"] == "RST_STREAM"]
    print(json.dumps({"mode": mode, "closed": closed, "goaway": away, "kinds": kinds, "statuses": statuses, "resets": resets[:20], "ms": round((time.time() - t0) * 1000)}))


def headers_frames(sid, block, max_frame=16384):
    """HEADERS (+ CONTINUATION) frames carrying `block`, END_STREAM on the HEADERS frame."""
    chunks = [block[i : i + max_frame] for i in range(0, len(block), max_frame)] or [b""]
    out = []
    for i, c in enumerate(chunks):
        last = END_HEADERS if i == len(chunks) - 1 else 0
        out.append(frame(1, END_STREAM | last, sid, c) if i == 0 else frame(9, last, sid, c))
    return b"".join(out)


if __name__ == "__main__":
    MODE, HOST, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
    run(MODE, int(sys.argv[4]) if len(sys.argv) > 4 else 0)
