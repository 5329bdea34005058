use std::io::Write;

use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::{Compress, Compression, Crc, FlushCompress, GzBuilder};

use super::*;

/// The text the fixtures in `testdata/` were made from (`brotli -q 9`, `zstd -19 --check`,
/// `zstd -3 --no-content-size --check`).
fn sample() -> Vec<u8> {
    let mut s = String::new();
    for i in 0..8000 {
        s.push_str(&format!(
            "line {i}: the quick brown fox jumps over {} lazy dogs\n",
            i * 7 % 13
        ));
    }
    s.into_bytes()
}

const SAMPLE_BR: &[u8] = include_bytes!("testdata/sample.txt.br");
const SAMPLE_ZST: &[u8] = include_bytes!("testdata/sample.txt.zst");
const SAMPLE_NOSIZE_ZST: &[u8] = include_bytes!("testdata/sample-nosize.txt.zst");
/// 100 MiB of zeros, `brotli -q 5`.
const ZEROS_100M_BR: &[u8] = include_bytes!("testdata/zeros-100m.br");

/// Pushes `input` in `in_chunk` pieces, taking at most `out_chunk` bytes per call, drains,
/// and finishes; checks the `decode` contract on every call.
fn run(
    dec: &mut ContentDecoder,
    input: &[u8],
    in_chunk: usize,
    out_chunk: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    for chunk in input.chunks(in_chunk) {
        let mut rest = chunk;
        loop {
            let before = out.len();
            let p = dec.decode(rest, &mut out, out_chunk)?;
            assert_eq!(out.len() - before, p.produced);
            assert!(p.produced <= out_chunk);
            rest = &rest[p.consumed..];
            if p.produced < out_chunk {
                assert!(rest.is_empty(), "returned early with input left");
                break;
            }
        }
    }
    loop {
        let p = dec.decode(&[], &mut out, out_chunk)?;
        if p.produced < out_chunk {
            break;
        }
    }
    dec.finish()?;
    Ok(out)
}

fn decoder(ce: &str) -> ContentDecoder {
    ContentDecoder::new(ce).unwrap().unwrap()
}

fn decode_with(ce: &str, input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    run(&mut decoder(ce), input, usize::MAX, 64 * 1024)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A gzip stream of `mib` MiB of zeros, built without compressing all of it: after a sync
/// flush the deflate stream is byte aligned, and the compressed form of "another MiB of
/// zeros after zeros" is valid however often it is repeated.
fn gzip_zeros(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::fast(), false);
    let mut first = Vec::with_capacity(1 << 16);
    c.compress_vec(&zeros, &mut first, FlushCompress::Sync)
        .unwrap();
    let mut repeat = Vec::with_capacity(1 << 16);
    c.compress_vec(&zeros, &mut repeat, FlushCompress::Sync)
        .unwrap();
    let mut tail = Vec::with_capacity(64);
    c.compress_vec(&[], &mut tail, FlushCompress::Finish)
        .unwrap();
    let mut crc = Crc::new();
    for _ in 0..mib {
        crc.update(&zeros);
    }
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend_from_slice(&first);
    for _ in 1..mib {
        out.extend_from_slice(&repeat);
    }
    out.extend_from_slice(&tail);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

/// A zstd frame of `blocks` RLE blocks of 128 KiB of zeros (4 bytes each).
fn zstd_rle_zeros(blocks: usize) -> Vec<u8> {
    // Magic, descriptor (no size, no checksum), window descriptor 2^(10+7) = 128 KiB.
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3];
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((128 * 1024) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

#[test]
fn header_parsing() {
    assert!(ContentDecoder::new("").unwrap().is_none());
    assert!(ContentDecoder::new("identity").unwrap().is_none());
    assert!(ContentDecoder::new(" identity , ").unwrap().is_none());
    assert_eq!(decoder("X-GZIP").codings(), vec![Coding::Gzip]);
    assert_eq!(
        decoder("gzip, identity,br").codings(),
        vec![Coding::Gzip, Coding::Brotli]
    );
    assert_eq!(
        ContentDecoder::new("gzip, compress").unwrap_err(),
        DecodeError::UnsupportedEncoding("compress".into())
    );
    assert_eq!(
        ContentDecoder::new("gzip,gzip,gzip,gzip,gzip").unwrap_err(),
        DecodeError::TooManyEncodings
    );
    assert_eq!(accept_encoding_value(), "zstd, br, gzip, deflate");
}

#[test]
fn gzip_roundtrip_any_chunking() {
    let data = sample();
    let gz = gzip(&data);
    for (inc, outc) in [(usize::MAX, 1 << 20), (1, 7), (13, 1), (4096, 100_000)] {
        assert_eq!(run(&mut decoder("gzip"), &gz, inc, outc).unwrap(), data);
    }
}

#[test]
fn gzip_optional_header_fields() {
    let data = b"payload with a named gzip member".repeat(50);
    let mut e = GzBuilder::new()
        .filename("report.txt")
        .comment("a comment")
        .extra(vec![1, 2, 3, 4])
        .write(Vec::new(), Compression::best());
    e.write_all(&data).unwrap();
    let gz = e.finish().unwrap();
    assert_eq!(run(&mut decoder("gzip"), &gz, 1, 3).unwrap(), data);
}

/// A header with FHCRC: the CRC16 is checked, and a wrong one is an error.
#[test]
fn gzip_header_crc() {
    let gz = gzip(b"checked header");
    let mut header = gz[..10].to_vec();
    header[3] |= 0x02;
    let mut crc = Crc::new();
    crc.update(&header);
    let crc16 = (crc.sum() as u16).to_le_bytes();
    let build = |crc16: [u8; 2]| {
        let mut v = header.clone();
        v.extend_from_slice(&crc16);
        v.extend_from_slice(&gz[10..]);
        v
    };
    assert_eq!(
        decode_with("gzip", &build(crc16)).unwrap(),
        b"checked header"
    );
    let err = decode_with("gzip", &build([crc16[0] ^ 1, crc16[1]])).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::Corrupt {
            coding: Coding::Gzip,
            ..
        }
    ));
}

#[test]
fn gzip_members_and_trailing_garbage() {
    let mut body = gzip(b"first ");
    body.extend(gzip(b"second"));
    assert_eq!(decode_with("gzip", &body).unwrap(), b"first second");
    body.extend_from_slice(b"\r\n<garbage>");
    assert_eq!(
        run(&mut decoder("gzip"), &body, 3, 5).unwrap(),
        b"first second"
    );
}

#[test]
fn gzip_corrupt_and_truncated() {
    let data = sample();
    let gz = gzip(&data);
    // Wrong CRC32 in the trailer.
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    assert!(matches!(
        decode_with("gzip", &bad).unwrap_err(),
        DecodeError::Corrupt {
            coding: Coding::Gzip,
            ..
        }
    ));
    // Wrong length in the trailer.
    let mut bad = gz.clone();
    bad[n - 1] ^= 1;
    assert!(matches!(
        decode_with("gzip", &bad).unwrap_err(),
        DecodeError::Corrupt { .. }
    ));
    // Not gzip at all.
    assert!(matches!(
        decode_with("gzip", b"<html>hello</html>").unwrap_err(),
        DecodeError::Corrupt { .. }
    ));
    // Cut in the header, the body and the trailer.
    for cut in [5, gz.len() / 2, gz.len() - 3] {
        assert_eq!(
            decode_with("gzip", &gz[..cut]).unwrap_err(),
            DecodeError::Truncated(Coding::Gzip),
            "cut at {cut}"
        );
    }
    // An empty body is accepted.
    assert_eq!(decode_with("gzip", b"").unwrap(), b"");
}

#[test]
fn deflate_zlib_and_raw() {
    let data = sample();
    assert_eq!(
        run(&mut decoder("deflate"), &zlib(&data), 1, 4096).unwrap(),
        data
    );
    assert_eq!(
        run(&mut decoder("deflate"), &raw_deflate(&data), 1, 4096).unwrap(),
        data
    );
    let tiny = b"x";
    assert_eq!(decode_with("deflate", &raw_deflate(tiny)).unwrap(), tiny);
    let z = zlib(&data);
    assert_eq!(
        decode_with("deflate", &z[..z.len() - 2]).unwrap_err(),
        DecodeError::Truncated(Coding::Deflate)
    );
    assert_eq!(
        decode_with("deflate", &z[..1]).unwrap_err(),
        DecodeError::Truncated(Coding::Deflate)
    );
    // A wrong Adler-32 is caught by the zlib wrapper.
    let mut bad = z.clone();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    assert!(matches!(
        decode_with("deflate", &bad).unwrap_err(),
        DecodeError::Corrupt {
            coding: Coding::Deflate,
            ..
        }
    ));
}

#[test]
fn brotli_fixture() {
    let data = sample();
    assert_eq!(run(&mut decoder("br"), SAMPLE_BR, 1, 1000).unwrap(), data);
    assert_eq!(
        run(&mut decoder("BR"), SAMPLE_BR, 100_000, 1 << 20).unwrap(),
        data
    );
    assert_eq!(
        decode_with("br", &SAMPLE_BR[..SAMPLE_BR.len() / 2]).unwrap_err(),
        DecodeError::Truncated(Coding::Brotli)
    );
    // Bit 0 of the first byte set with WBITS bits 1-3 zero selects the reserved window
    // code, which a strict decoder rejects.
    assert!(matches!(
        decode_with("br", &[0x11, 0, 0, 0]).unwrap_err(),
        DecodeError::Corrupt {
            coding: Coding::Brotli,
            ..
        }
    ));
}

#[test]
fn zstd_fixtures_and_encoder() {
    let data = sample();
    assert_eq!(run(&mut decoder("zstd"), SAMPLE_ZST, 1, 999).unwrap(), data);
    assert_eq!(
        run(&mut decoder("zstd"), SAMPLE_NOSIZE_ZST, 777, 1 << 20).unwrap(),
        data
    );
    let encoded =
        ruzstd::encoding::compress_to_vec(&data[..], ruzstd::encoding::CompressionLevel::Fastest);
    assert_eq!(
        run(&mut decoder("zstd"), &encoded, 4096, 4096).unwrap(),
        data
    );
}

#[test]
fn zstd_frames_skippable_and_garbage() {
    let mut body = SAMPLE_ZST.to_vec();
    // A skippable frame (magic 0x184D2A5A, 3 bytes of content) between two frames.
    body.extend_from_slice(&[0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    body.extend_from_slice(SAMPLE_NOSIZE_ZST);
    body.extend_from_slice(b"trailing");
    let mut expected = sample();
    expected.extend(sample());
    assert_eq!(
        run(&mut decoder("zstd"), &body, 5000, 1 << 16).unwrap(),
        expected
    );
}

#[test]
fn zstd_corrupt_and_truncated() {
    // Checksum (last 4 bytes) altered.
    let mut bad = SAMPLE_ZST.to_vec();
    let n = bad.len();
    bad[n - 1] ^= 0xff;
    assert_eq!(
        decode_with("zstd", &bad).unwrap_err(),
        DecodeError::corrupt(Coding::Zstd, "content checksum mismatch")
    );
    for cut in [3, 8, n / 2, n - 2] {
        assert_eq!(
            decode_with("zstd", &SAMPLE_ZST[..cut]).unwrap_err(),
            DecodeError::Truncated(Coding::Zstd),
            "cut at {cut}"
        );
    }
    assert!(matches!(
        decode_with("zstd", b"definitely not zstd").unwrap_err(),
        DecodeError::Corrupt {
            coding: Coding::Zstd,
            ..
        }
    ));
    // A 16 MiB window is over RFC 9659's limit.
    let mut big_window = zstd_rle_zeros(1);
    big_window[5] = 14 << 3;
    assert_eq!(
        decode_with("zstd", &big_window).unwrap_err(),
        DecodeError::corrupt(Coding::Zstd, "window larger than 8 MiB")
    );
}

#[test]
fn stacked_codings_are_undone_in_reverse() {
    let data = sample();
    // "deflate, gzip": deflate applied first, gzip second.
    let body = gzip(&zlib(&data));
    assert_eq!(
        run(&mut decoder("deflate, gzip"), &body, 3, 500).unwrap(),
        data
    );
    // "br, gzip" with the brotli fixture inside gzip.
    let body = gzip(SAMPLE_BR);
    assert_eq!(
        run(&mut decoder("br,gzip"), &body, 1 << 20, 1 << 20).unwrap(),
        data
    );
    // The wrong order fails instead of returning compressed bytes.
    assert!(decode_with("gzip, br", &body).is_err());
}

#[test]
fn output_is_bounded_by_max_out() {
    let gz = gzip_zeros(4);
    let mut dec = decoder("gzip");
    let mut out = Vec::new();
    let p = dec.decode(&gz, &mut out, 1000).unwrap();
    assert_eq!(p.produced, 1000);
    assert_eq!(out.len(), 1000);
    assert!(p.consumed < gz.len());
    assert_eq!(dec.finish().unwrap_err(), DecodeError::OutputPending);
    let p = dec.decode(&[], &mut out, 0).unwrap();
    assert_eq!(p, DecodeProgress::default());
}

#[test]
fn gzip_bomb_trips_the_guard_early() {
    let bomb = gzip_zeros(100);
    assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
    let mut dec = decoder("gzip");
    let mut out = Vec::new();
    let mut pos = 0;
    let err = loop {
        out.clear(); // a consumer that reads everything: memory stays one chunk
        match dec.decode(&bomb[pos..], &mut out, 64 * 1024) {
            Ok(p) => {
                pos += p.consumed;
                assert!(p.produced > 0, "stalled before the guard tripped");
            }
            Err(e) => break e,
        }
    };
    let DecodeError::BombSuspected { input, output } = err else {
        panic!("unexpected {err:?}");
    };
    assert!(output > DEFAULT_SAFETY_THRESHOLD as u64);
    assert!(output <= DEFAULT_SAFETY_THRESHOLD as u64 + 64 * 1024);
    assert!(output > 40 * input);
    // The error is sticky.
    assert_eq!(dec.decode(&[], &mut out, 10).unwrap_err(), err);
    assert_eq!(dec.finish().unwrap_err(), err);
}

fn first_error(dec: &mut ContentDecoder, input: &[u8]) -> Option<DecodeError> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        out.clear();
        match dec.decode(&input[pos..], &mut out, 1 << 16) {
            Ok(p) if p.produced == 0 && pos == input.len() => return None,
            Ok(p) => pos += p.consumed,
            Err(e) => return Some(e),
        }
    }
}

#[test]
fn brotli_and_zstd_bombs_trip_the_guard() {
    let err = first_error(&mut decoder("br"), ZEROS_100M_BR).unwrap();
    assert!(matches!(err, DecodeError::BombSuspected { output, .. } if output < 11 << 20));
    let bomb = zstd_rle_zeros(800); // 100 MiB from 3.2 KB
    let err = first_error(&mut decoder("zstd"), &bomb).unwrap();
    assert!(matches!(err, DecodeError::BombSuspected { output, .. } if output < 11 << 20));
}

#[test]
fn nested_bomb_trips_the_guard() {
    // gzip inside gzip: each layer alone has a modest ratio, the chain does not.
    let body = gzip(&gzip_zeros(64));
    let err = first_error(&mut decoder("gzip, gzip"), &body).unwrap();
    assert!(matches!(err, DecodeError::BombSuspected { .. }));
}

#[test]
fn threshold_minus_one_disables_the_guard() {
    let bomb = gzip_zeros(12);
    let mut dec = decoder("gzip").with_decompressed_safety_check_threshold(-1);
    let mut total = 0usize;
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        out.clear();
        let p = dec.decode(&bomb[pos..], &mut out, 1 << 20).unwrap();
        assert!(out.iter().all(|&b| b == 0));
        pos += p.consumed;
        total += p.produced;
        if p.produced < 1 << 20 {
            break;
        }
    }
    dec.finish().unwrap();
    assert_eq!(total, 12 << 20);
    // Same body, default threshold: refused.
    assert!(first_error(&mut decoder("gzip"), &bomb).is_some());
    // A raised threshold lets it through too.
    let mut dec = decoder("gzip");
    dec.set_decompressed_safety_check_threshold(20 << 20);
    assert_eq!(first_error(&mut dec, &bomb), None);
}

#[test]
fn high_ratio_below_threshold_is_fine() {
    let body = gzip_zeros(2);
    assert_eq!(decode_with("gzip", &body).unwrap().len(), 2 << 20);
}
