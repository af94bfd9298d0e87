//! Property tests of the format types: every encoding round-trips, and the decoders never
//! panic on arbitrary or mutated bytes (the stable-toolchain smoke run of the fuzz targets).

use proptest::prelude::*;
use seedship_drive::format::{
    self, BlobType, Disposition, KdfParams, Manifest, ManifestEntry, Plan, RangeCipher, Sealed, SegmentSpec,
    SetPosition, WrappedKey,
};

fn blob_type() -> impl Strategy<Value = BlobType> {
    prop_oneof![Just(BlobType::Block), Just(BlobType::Page)]
}

fn disposition() -> impl Strategy<Value = Disposition> {
    prop_oneof![
        Just(Disposition::Rename),
        Just(Disposition::NoOverwrite),
        Just(Disposition::Overwrite)
    ]
}

prop_compose! {
    fn segment()(
        segment in any::<u64>(),
        file_id in any::<u64>(),
        root in any::<u32>(),
        path in proptest::collection::vec(any::<u8>(), 0..40),
        dst in "[a-z0-9/._-]{0,40}",
        blob_type in blob_type(),
        disposition in disposition(),
        file_size in 0u64..(1 << 30),
        split in (0.0f64..=1.0, 0.0f64..=1.0),
        mtime_ns in any::<i64>(),
        metadata in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        properties in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
    ) -> SegmentSpec {
        let offset = (file_size as f64 * split.0) as u64;
        let len = ((file_size - offset) as f64 * split.1) as u64;
        SegmentSpec {
            segment, file_id, root, path, dst, blob_type, disposition, file_size, mtime_ns,
            offset, len, metadata, properties,
        }
    }
}

fn range_cipher() -> impl Strategy<Value = RangeCipher> {
    prop_oneof![Just(RangeCipher::XChaCha20Poly1305), Just(RangeCipher::Aes256Gcm)]
}

prop_compose! {
    fn position()(set_id in any::<[u8; 16]>(), count in 1u8..=10, pick in any::<u8>()) -> SetPosition {
        SetPosition { set_id, drive_index: pick % count + 1, drive_count: count }
    }
}

prop_compose! {
    fn sealed()(nonce in any::<[u8; 24]>(), body in proptest::collection::vec(any::<u8>(), 16..80)) -> Sealed {
        Sealed { nonce, body }
    }
}

/// The one range size the format reads; files of up to 1 GiB keep the checksum lists short.
const RANGE: u32 = format::RANGE_SIZE;

fn entry() -> impl Strategy<Value = ManifestEntry> {
    (segment(), proptest::option::of(any::<[u8; 32]>())).prop_flat_map(|(spec, file_hash)| {
        let n = spec.range_count(RANGE) as usize;
        proptest::collection::vec(any::<[u8; 32]>(), n..=n).prop_map(move |ranges| ManifestEntry {
            spec: spec.clone(),
            file_hash,
            ranges,
        })
    })
}

/// `entries` laid out as the planner lays out a drive at `position`: whole files, except
/// that the first may continue a file from an earlier drive and the last may continue onto a
/// later one.
fn laid_out(position: &SetPosition, mut entries: Vec<ManifestEntry>) -> Vec<ManifestEntry> {
    let last = entries.len().saturating_sub(1);
    for (i, entry) in entries.iter_mut().enumerate() {
        let spec = &mut entry.spec;
        if i > 0 || position.drive_index == 1 {
            spec.file_size -= spec.offset;
            spec.offset = 0;
        }
        if i < last || position.drive_index == position.drive_count {
            spec.file_size = spec.offset + spec.len;
        }
    }
    entries
}

proptest! {
    #[test]
    fn plan_round_trips(
        session_id in "[A-Za-z0-9_#-]{3,30}",
        position in position(),
        roots in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 0..4),
        segments in proptest::collection::vec(segment(), 0..8),
        range_cipher in range_cipher(),
    ) {
        let plan = Plan { session_id, position, range_cipher, range_size: RANGE, roots, segments };
        prop_assert_eq!(Plan::decode(&plan.encode()), Ok(plan));
    }

    #[test]
    fn manifest_round_trips(
        session_id in "[A-Za-z0-9_#-]{3,30}",
        drive_id in any::<[u8; 16]>(),
        position in position(),
        entries in proptest::collection::vec(entry(), 0..6),
        range_cipher in range_cipher(),
    ) {
        let entries = laid_out(&position, entries);
        let manifest = Manifest { session_id, drive_id, position, range_cipher, range_size: RANGE, entries };
        prop_assert_eq!(Manifest::decode(&manifest.encode()), Ok(manifest));
    }

    #[test]
    fn manifest_file_and_sealed_round_trip(s in sealed()) {
        prop_assert_eq!(format::decode_manifest_file(&format::encode_manifest_file(&s)), Ok(s.clone()));
        prop_assert_eq!(Sealed::decode(&s.encode()), Ok(s));
    }

    #[test]
    fn wrapped_keys_round_trip(
        ephemeral in any::<[u8; 32]>(),
        recipient in any::<[u8; 32]>(),
        salt in any::<[u8; 16]>(),
        costs in any::<(u32, u32, u32)>(),
        s in sealed(),
    ) {
        let x = WrappedKey::X25519 { ephemeral, recipient, sealed: s.clone() };
        prop_assert_eq!(WrappedKey::decode(&x.encode()), Ok(x));
        let p = WrappedKey::Passphrase {
            salt,
            params: KdfParams { m_cost: costs.0, t_cost: costs.1, p_cost: costs.2 },
            sealed: s,
        };
        prop_assert_eq!(WrappedKey::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn key_files_round_trip(key in any::<[u8; 32]>()) {
        let text = format::encode_key_file(format::PUBLIC_KEY_LABEL, &key);
        prop_assert_eq!(format::decode_key_file(format::PUBLIC_KEY_LABEL, &text), Ok(key));
        prop_assert!(format::decode_key_file(format::SECRET_KEY_LABEL, &text).is_err());
    }

    #[test]
    fn session_ids_follow_the_rule(id in "\\PC{0,40}") {
        let valid = (3..=30).contains(&id.chars().count())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || "_-#".contains(c));
        prop_assert_eq!(format::check_session_id(&id).is_ok(), valid);
    }

    /// Fuzz smoke: arbitrary bytes never panic the manifest or journal record decoders.
    #[test]
    fn decoders_survive_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Plan::decode(&bytes);
        let _ = Manifest::decode(&bytes);
        let _ = format::decode_manifest_file(&bytes);
        let _ = WrappedKey::decode(&bytes);
        let _ = Sealed::decode(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = format::parse_dataset(&text);
        let _ = format::parse_driveset(&text);
        let _ = format::decode_key_file(format::SECRET_KEY_LABEL, &text);
    }

    /// Fuzz smoke: valid encodings with one byte changed or cut short decode to an error or
    /// a value, never a panic or a huge allocation.
    #[test]
    fn decoders_survive_mutations(
        entries in proptest::collection::vec(entry(), 1..4),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let manifest = Manifest {
            session_id: "fuzz".into(),
            drive_id: [7; 16],
            position: SetPosition { set_id: [1; 16], drive_index: 1, drive_count: 1 },
            range_cipher: RangeCipher::CURRENT,
            range_size: RANGE,
            entries,
        };
        let mut bytes = manifest.encode();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = Manifest::decode(&bytes);
        let _ = Manifest::decode(&bytes[..cut.index(bytes.len())]);
        let plan = Plan {
            session_id: "fuzz".into(),
            position: manifest.position.clone(),
            range_cipher: manifest.range_cipher,
            range_size: RANGE,
            roots: vec![b"/src".to_vec()],
            segments: manifest.entries.iter().map(|e| e.spec.clone()).collect(),
        };
        let mut bytes = plan.encode();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = Plan::decode(&bytes);
        prop_assert!(Plan::decode(&plan.encode()[..cut.index(plan.encode().len())]).is_err());
    }
}

#[test]
fn csv_errors_name_the_line() {
    let header = "BasePath,DstBlobPathOrPrefix,BlobType,Disposition,MetadataFile,PropertiesFile\n";
    let good =
        format!("{header}/src/,seeds/a,BlockBlob,rename,,\n/big.vhd,seeds/b.vhd,PageBlob,overwrite,,\n");
    let rows = format::parse_dataset(&good).expect("valid dataset");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].blob_type, BlobType::Page);
    assert_eq!(rows[1].disposition, Disposition::Overwrite);
    let bad = format!("{header}/src/,seeds/a,BlockBlob,rename,,\n/src/,seeds/a,BlockBlob,sideways,,\n");
    let err = format::parse_dataset(&bad).expect_err("bad disposition");
    assert!(
        err.to_string().starts_with("line 3: Disposition \"sideways\""),
        "{err}"
    );
    let short = format!("{header}/src/,seeds/a\n");
    assert!(
        format::parse_dataset(&short)
            .expect_err("short")
            .to_string()
            .starts_with("line 2: expected 6 columns")
    );
    let header = "DriveLetter,FormatOption,SilentOrPromptOnFormat,Encryption,ExistingBitLockerKey\n";
    let drives = format::parse_driveset(&format!(
        "{header}/mnt/a,Format,SilentMode,Encrypt,\n/mnt/b,AlreadyFormatted,PromptOnFormat,AlreadyEncrypted,/j/b.jrn\n"
    ))
    .expect("valid driveset");
    assert!(drives[0].format && drives[0].silent && drives[0].encrypt);
    assert_eq!(drives[1].existing_key.as_deref(), Some("/j/b.jrn"));
    let err = format::parse_driveset(&format!("{header}/mnt/a,Format,SilentMode,AlreadyEncrypted,/j\n"))
        .expect_err("format without encrypt");
    assert_eq!(err.to_string(), "line 2: Format requires Encrypt");
    let err = format::parse_driveset(&format!(
        "{header}/mnt/a,AlreadyFormatted,SilentMode,Encrypt,/j\n"
    ))
    .expect_err("encrypt with key");
    assert_eq!(err.to_string(), "line 2: Encrypt excludes ExistingBitLockerKey");
}

#[test]
fn destinations_follow_container_rules() {
    assert_eq!(
        format::check_destination("seeds/machine-1/").as_deref(),
        Ok("seeds/machine-1")
    );
    for bad in ["Seeds/x", "ab/x", "-ab/x", "a--b/x", "seeds//x", "seeds/../x"] {
        assert!(format::check_destination(bad).is_err(), "{bad}");
    }
}

/// The manifest of session `s1` on the one drive of its set, with no entries.
fn empty_manifest(range_cipher: RangeCipher, range_size: u32) -> Manifest {
    Manifest {
        session_id: "s1".into(),
        drive_id: [1; 16],
        position: SetPosition {
            set_id: [2; 16],
            drive_index: 1,
            drive_count: 1,
        },
        range_cipher,
        range_size,
        entries: Vec::new(),
    }
}

/// The version says how the ranges are sealed: 1 (XChaCha20-Poly1305, the first drives) and
/// 2 (AES-256-GCM, what new drives get) read as such, any other is refused.
#[test]
fn the_version_names_the_range_cipher_and_an_unknown_one_is_refused() {
    let manifest = empty_manifest(RangeCipher::XChaCha20Poly1305, format::RANGE_SIZE);
    assert_eq!(RangeCipher::CURRENT, RangeCipher::Aes256Gcm);
    for (version, cipher) in [
        (1u32, RangeCipher::XChaCha20Poly1305),
        (2, RangeCipher::Aes256Gcm),
    ] {
        let mut bytes = manifest.encode();
        bytes[..4].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            Manifest::decode(&bytes).map(|m| m.range_cipher),
            Ok(cipher),
            "version {version}"
        );
    }
    for version in [0u32, 3, u32::MAX] {
        let mut bytes = manifest.encode();
        bytes[..4].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            Manifest::decode(&bytes),
            Err(format::FormatError::UnsupportedVersion { version })
        );
    }
}

/// A plan or manifest with another range size is refused: one range is what a reader
/// allocates, so a manifest of 4 GiB ranges would make it allocate 4 GiB per range.
#[test]
fn another_range_size_is_refused() {
    let manifest = empty_manifest(RangeCipher::CURRENT, u32::MAX);
    let refused = format::FormatError::RangeSize {
        found: u32::MAX,
        expected: format::RANGE_SIZE,
    };
    assert_eq!(Manifest::decode(&manifest.encode()), Err(refused.clone()));
    let plan = Plan {
        session_id: "s1".into(),
        position: manifest.position.clone(),
        range_cipher: RangeCipher::CURRENT,
        range_size: u32::MAX,
        roots: Vec::new(),
        segments: Vec::new(),
    };
    assert_eq!(Plan::decode(&plan.encode()), Err(refused));
    let manifest = Manifest {
        range_size: format::RANGE_SIZE,
        ..manifest
    };
    assert_eq!(Manifest::decode(&manifest.encode()), Ok(manifest));
}

/// Only a drive's first file may continue from an earlier drive and only its last onto a
/// later one, and no file is larger than the format carries: a manifest cannot declare bytes
/// beyond what its drive holds except for those two spans, and those stay bounded.
#[test]
fn a_manifest_laid_out_otherwise_is_refused() {
    let spec = |offset: u64, len: u64, file_size: u64| ManifestEntry {
        spec: SegmentSpec {
            segment: 0,
            file_id: 0,
            root: 0,
            path: b"f".to_vec(),
            dst: "seed/f".into(),
            blob_type: BlobType::Block,
            disposition: Disposition::Rename,
            file_size,
            mtime_ns: 0,
            offset,
            len,
            metadata: None,
            properties: None,
        },
        file_hash: None,
        ranges: vec![[0; 32]; len.div_ceil(u64::from(RANGE)) as usize],
    };
    let manifest = |drive_index: u8, drive_count: u8, entries: Vec<ManifestEntry>| {
        Manifest {
            session_id: "s1".into(),
            drive_id: [1; 16],
            position: SetPosition {
                set_id: [2; 16],
                drive_index,
                drive_count,
            },
            range_cipher: RangeCipher::CURRENT,
            range_size: RANGE,
            entries,
        }
        .encode()
    };
    let layout = Err(format::FormatError::Invalid {
        what: "segment layout (only a drive's first and last file may span drives)",
    });
    let whole = || spec(0, 10, 10);
    // the middle drive of three: the first file comes from before, the last goes on after
    let middle = vec![spec(5, 5, 10), whole(), spec(0, 5, 10)];
    assert!(Manifest::decode(&manifest(2, 3, middle.clone())).is_ok());
    // the first drive has no drive before it, the last none after it, a lone drive neither
    assert_eq!(Manifest::decode(&manifest(1, 3, middle.clone())), layout);
    assert_eq!(Manifest::decode(&manifest(3, 3, middle)), layout);
    assert_eq!(
        Manifest::decode(&manifest(1, 1, vec![spec(0, 5, 1 << 40)])),
        layout
    );
    // a file in the middle spans nothing
    assert_eq!(
        Manifest::decode(&manifest(2, 3, vec![whole(), spec(0, 5, 10), whole()])),
        layout
    );
    // a file larger than ten drives of full manifests
    let huge = vec![spec(0, 5, format::MAX_FILE_SIZE + 1)];
    assert_eq!(
        Manifest::decode(&manifest(1, 2, huge)),
        Err(format::FormatError::Invalid { what: "file size" })
    );
    // more drives than a set holds
    assert_eq!(
        Manifest::decode(&manifest(1, 11, vec![whole()])),
        Err(format::FormatError::Invalid { what: "drive index" })
    );
}
