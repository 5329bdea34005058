use super::*;

/// A frame as a peer in `from` would send it.
fn frame(from: Role, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    let mask = (from == Role::Client).then_some([0x11, 0x22, 0x33, 0x44]);
    let op = OpCode::from_bits(opcode);
    match op {
        Some(op) => encode_header(&mut out, fin, false, op, mask, payload.len() as u64),
        None => encode_header(
            &mut out,
            fin,
            false,
            OpCode::Binary,
            mask,
            payload.len() as u64,
        ),
    }
    out[0] = (out[0] & 0x80) | (rsv << 4) | opcode;
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut out[start..], mask, 0);
    }
    out
}

fn server() -> Protocol {
    Protocol::new(Role::Server, None)
}

fn client() -> Protocol {
    Protocol::new(Role::Client, None)
}

/// Feeds `bytes` and collects events until a violation or the end of the input.
fn run(p: &mut Protocol, bytes: &[u8]) -> (Vec<Event>, Option<Violation>) {
    p.feed(&mut BytesMut::from(bytes));
    let mut events = Vec::new();
    loop {
        match p.poll() {
            Ok(Some(e)) => events.push(e),
            Ok(None) => return (events, None),
            Err(v) => return (events, Some(v)),
        }
    }
}

/// The close code of the close frame `p` queued (a server's frames are unmasked).
fn sent_close_code(p: &mut Protocol) -> u16 {
    let out: Vec<u8> = p.take_output().concat();
    let (h, n) = decode_header(&out).unwrap().unwrap();
    assert_eq!(h.opcode, OpCode::Close);
    let mut payload = out[n..n + h.len as usize].to_vec();
    if let Some(mask) = h.mask {
        apply_mask(&mut payload, mask, 0);
    }
    u16::from_be_bytes([payload[0], payload[1]])
}

fn violation(p: &mut Protocol, bytes: &[u8]) -> u16 {
    let (_, v) = run(p, bytes);
    let v = v.expect("a violation");
    let sent = sent_close_code(p);
    assert_eq!(sent, v.code.code(), "{}", v.what);
    // Nothing is read after a violation.
    assert_eq!(run(p, &frame(Role::Client, true, 0, 1, b"x")).0, vec![]);
    sent
}

#[test]
fn messages_whole_and_fragmented_with_a_ping_between_fragments() {
    let mut p = server();
    let mut bytes = frame(Role::Client, true, 0, 1, b"hello");
    bytes.extend_from_slice(&frame(Role::Client, false, 0, 2, b"ab"));
    bytes.extend_from_slice(&frame(Role::Client, true, 0, 9, b"p"));
    bytes.extend_from_slice(&frame(Role::Client, false, 0, 0, b"cd"));
    bytes.extend_from_slice(&frame(Role::Client, true, 0, 0, b"ef"));
    // Byte by byte: every split of the input reads the same.
    let mut events = Vec::new();
    for b in bytes.iter() {
        events.extend(run(&mut p, &[*b]).0);
    }
    assert_eq!(
        events,
        vec![
            Event::Text("hello".into()),
            Event::Ping(Bytes::from_static(b"p")),
            Event::Binary(Bytes::from_static(b"abcdef")),
        ]
    );
    // The ping was answered with an unmasked pong.
    assert_eq!(p.take_output().concat(), vec![0x8a, 0x01, b'p']);
}

#[test]
fn frame_events_carry_whole_characters_split_across_frames() {
    let mut p = client();
    p.set_frame_events(true);
    let euro = "€".as_bytes(); // 3 bytes
    let mut bytes = frame(Role::Server, false, 0, 1, &[b'a', euro[0]]);
    bytes.extend_from_slice(&frame(Role::Server, true, 0, 0, &euro[1..]));
    let (events, v) = run(&mut p, &bytes);
    assert_eq!(v, None);
    assert_eq!(
        events,
        vec![
            Event::TextFrame("a".into(), false),
            Event::TextFrame("€".into(), true),
            Event::Text("a€".into()),
        ]
    );
}

#[test]
fn unmasked_client_frames_and_masked_server_frames_are_protocol_errors() {
    assert_eq!(
        violation(&mut server(), &frame(Role::Server, true, 0, 1, b"x")),
        1002
    );
    assert_eq!(
        violation(&mut client(), &frame(Role::Client, true, 0, 1, b"x")),
        1002
    );
}

#[test]
fn reserved_opcodes_and_bits_are_protocol_errors() {
    for op in [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        assert_eq!(
            violation(&mut client(), &frame(Role::Server, true, 0, op, b"")),
            1002
        );
    }
    for rsv in [1, 2, 4] {
        // RSV1 without permessage-deflate, RSV2, RSV3.
        assert_eq!(
            violation(&mut client(), &frame(Role::Server, true, rsv, 2, b"x")),
            1002
        );
    }
}

#[test]
fn invalid_utf8_in_text_is_1007_whole_split_or_cut_short() {
    assert_eq!(
        violation(&mut client(), &frame(Role::Server, true, 0, 1, b"a\xffb")),
        1007
    );
    // An overlong encoding and a surrogate.
    assert_eq!(
        violation(&mut client(), &frame(Role::Server, true, 0, 1, b"\xc0\xaf")),
        1007
    );
    assert_eq!(
        violation(
            &mut client(),
            &frame(Role::Server, true, 0, 1, b"\xed\xa0\x80")
        ),
        1007
    );
    // A message that ends inside a character.
    let mut bytes = frame(Role::Server, false, 0, 1, b"ok");
    bytes.extend_from_slice(&frame(Role::Server, true, 0, 0, b"\xe2\x82"));
    assert_eq!(violation(&mut client(), &bytes), 1007);
}

#[test]
fn oversized_or_fragmented_control_frames_are_protocol_errors() {
    assert_eq!(
        violation(&mut client(), &frame(Role::Server, true, 0, 9, &[0; 126])),
        1002
    );
    assert_eq!(
        violation(&mut client(), &frame(Role::Server, false, 0, 9, b"p")),
        1002
    );
    // 125 bytes is fine.
    let (events, v) = run(&mut client(), &frame(Role::Server, true, 0, 10, &[7; 125]));
    assert_eq!((events.len(), v), (1, None));
}

#[test]
fn continuation_without_a_start_and_a_start_inside_a_message_are_protocol_errors() {
    assert_eq!(
        violation(&mut client(), &frame(Role::Server, true, 0, 0, b"x")),
        1002
    );
    let mut bytes = frame(Role::Server, false, 0, 1, b"x");
    bytes.extend_from_slice(&frame(Role::Server, true, 0, 2, b"y"));
    assert_eq!(violation(&mut client(), &bytes), 1002);
}

#[test]
fn close_codes_that_may_not_be_sent_are_protocol_errors() {
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        let close = frame(Role::Server, true, 0, 8, &code.to_be_bytes());
        assert_eq!(violation(&mut client(), &close), 1002, "code {code}");
    }
    assert_eq!(
        violation(&mut client(), &frame(Role::Server, true, 0, 8, &[3])),
        1002
    );
    let mut bad_reason = 1000u16.to_be_bytes().to_vec();
    bad_reason.extend_from_slice(b"\xff");
    assert_eq!(
        violation(&mut client(), &frame(Role::Server, true, 0, 8, &bad_reason)),
        1007
    );
}

#[test]
fn a_close_is_answered_with_its_code_and_ends_reading() {
    let mut p = server();
    let mut payload = 4000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    let (events, v) = run(&mut p, &frame(Role::Client, true, 0, 8, &payload));
    assert_eq!(v, None);
    assert_eq!(events, vec![Event::Close(Some((4000, "bye".into())))]);
    assert_eq!(sent_close_code(&mut p), 4000);
    assert!(p.close_sent() && p.close_received() && !p.can_send());
    // An empty close is answered with an empty one.
    let mut p = server();
    let (events, _) = run(&mut p, &frame(Role::Client, true, 0, 8, b""));
    assert_eq!(events, vec![Event::Close(None)]);
    assert_eq!(p.take_output().concat(), vec![0x88, 0x00]);
}

#[test]
fn frames_and_messages_over_the_limits_are_1009() {
    let mut p = client();
    p.set_max_frame_size(10);
    assert_eq!(
        violation(&mut p, &frame(Role::Server, true, 0, 2, &[0; 11])),
        1009
    );
    let mut p = client();
    p.set_max_message_size(10);
    let mut bytes = frame(Role::Server, false, 0, 2, &[0; 6]);
    bytes.extend_from_slice(&frame(Role::Server, true, 0, 0, &[0; 6]));
    assert_eq!(violation(&mut p, &bytes), 1009);
    // A header announcing a huge frame fails before its payload arrives.
    let mut p = client();
    p.set_max_message_size(1 << 20);
    let mut header = BytesMut::new();
    encode_header(&mut header, true, false, OpCode::Binary, None, 1 << 40);
    assert_eq!(violation(&mut p, &header), 1009);
}

#[test]
fn client_frames_are_masked_with_a_fresh_key_each() {
    let mut p = client();
    p.set_outgoing_frame_size(4);
    p.send_message(false, Bytes::from_static(b"abcdefghij"));
    let out = p.take_output().concat();
    let mut at = 0;
    let mut keys = Vec::new();
    let mut payload = Vec::new();
    let mut opcodes = Vec::new();
    while at < out.len() {
        let (h, n) = decode_header(&out[at..]).unwrap().unwrap();
        let mask = h.mask.expect("client frames are masked");
        keys.push(mask);
        opcodes.push((h.opcode, h.fin));
        let mut part = out[at + n..at + n + h.len as usize].to_vec();
        apply_mask(&mut part, mask, 0);
        payload.extend(part);
        at += n + h.len as usize;
    }
    assert_eq!(payload, b"abcdefghij");
    assert_eq!(
        opcodes,
        vec![
            (OpCode::Binary, false),
            (OpCode::Continuation, false),
            (OpCode::Continuation, true)
        ]
    );
    assert!(keys[0] != keys[1] || keys[1] != keys[2], "{keys:?}");
    // And the server reads them back.
    let (events, v) = run(&mut server(), &out);
    assert_eq!(v, None);
    assert_eq!(
        events,
        vec![Event::Binary(Bytes::from_static(b"abcdefghij"))]
    );
}

/// A client and a server with permessage-deflate, `params` agreed.
fn deflate_pair(params: DeflateParams) -> (Protocol, Protocol) {
    (
        Protocol::new(Role::Client, Some(params)),
        Protocol::new(Role::Server, Some(params)),
    )
}

#[test]
fn compressed_messages_cross_both_ways_and_fragmented() {
    let (mut c, mut s) = deflate_pair(DeflateParams::default());
    c.set_outgoing_frame_size(7);
    let text = "compress me, compress me, compress me ".repeat(10);
    for _ in 0..3 {
        c.send_message(true, Bytes::from(text.clone()));
        let wire = c.take_output().concat();
        assert!(wire.len() < text.len() / 2, "compressed: {}", wire.len());
        let (events, v) = run(&mut s, &wire);
        assert_eq!(v, None);
        assert_eq!(events, vec![Event::Text(text.clone())]);
        s.send_message(false, Bytes::from(text.clone()));
        let (events, v) = run(&mut c, &s.take_output().concat());
        assert_eq!(v, None);
        assert_eq!(events, vec![Event::Binary(Bytes::from(text.clone()))]);
    }
    // Without context takeover as well.
    let (mut c, mut s) = deflate_pair(DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    });
    for _ in 0..2 {
        c.send_message(true, Bytes::from(text.clone()));
        assert_eq!(
            run(&mut s, &c.take_output().concat()).0,
            vec![Event::Text(text.clone())]
        );
    }
}

#[test]
fn a_compressed_bomb_is_1009_and_rsv1_on_a_continuation_or_control_is_1002() {
    let (mut c, mut s) = deflate_pair(DeflateParams::default());
    s.set_max_message_size(1 << 20);
    c.send_message(false, Bytes::from(vec![0u8; 4 << 20]));
    let wire = c.take_output().concat();
    assert!(wire.len() < 8192, "{}", wire.len());
    assert_eq!(violation(&mut s, &wire), 1009);

    let (_, mut s) = deflate_pair(DeflateParams::default());
    let mut bytes = frame(Role::Client, false, 0, 2, b"x");
    bytes.extend_from_slice(&frame(Role::Client, true, 4, 0, b"y"));
    assert_eq!(violation(&mut s, &bytes), 1002);
    let (_, mut s) = deflate_pair(DeflateParams::default());
    assert_eq!(
        violation(&mut s, &frame(Role::Client, true, 4, 9, b"")),
        1002
    );
    let (_, mut s) = deflate_pair(DeflateParams::default());
    assert_eq!(
        violation(&mut s, &frame(Role::Client, true, 4, 2, &[0xff; 8])),
        1002
    );
}

#[test]
fn invalid_utf8_inside_a_compressed_text_is_1007() {
    let (mut c, mut s) = deflate_pair(DeflateParams::default());
    // Compressed as binary, then relabelled text: the bytes are not UTF-8.
    c.send_message(false, Bytes::from_static(b"\xff\xfe not text"));
    let mut wire = c.take_output().concat();
    wire[0] = (wire[0] & 0xf0) | 1;
    assert_eq!(violation(&mut s, &wire), 1007);
}
