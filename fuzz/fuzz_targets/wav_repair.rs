//! The repair of a recording a crash left unfinished, on any bytes: no
//! panic; a file it refuses is left as it was; a file it repairs opens in an
//! independent reader (hound) and reads to the end, every sample of it, and a
//! second repair finds nothing to change.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.wav");
    std::fs::write(&path, data).unwrap();
    match hotline::recording::repair_file(&path) {
        Ok(outcome) => {
            let reader = hound::WavReader::open(&path).expect("a repaired file opens");
            let spec = reader.spec();
            assert_eq!(spec.channels, outcome.channels);
            assert_eq!(spec.sample_rate, outcome.sample_rate);
            let samples = reader.into_samples::<i32>().collect::<Result<Vec<_>, _>>();
            let samples = samples.expect("every sample reads");
            assert_eq!(
                samples.len() as u64,
                outcome.frames * u64::from(outcome.channels)
            );
            let again = hotline::recording::repair_file(&path).expect("repairs again");
            assert!(!again.changed, "a second repair changes nothing");
        }
        Err(_) => assert_eq!(
            std::fs::read(&path).unwrap(),
            data,
            "a refused file is untouched"
        ),
    }
});
