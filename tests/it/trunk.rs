//! Registration to a trunk with digest authentication, against sipp playing
//! the registrar and checking our credentials with its own digest code.

use std::time::Duration;

use crate::peers::sipp::{SippProcess, scenario_path};
use crate::{AppOptions, spawn_app};

async fn register(scenario: &str, password: &str) -> crate::peers::sipp::SippOutcome {
    let registrar = SippProcess::spawn(
        &scenario_path(scenario),
        None,
        &[
            "-key",
            "user",
            "trunkuser",
            "-key",
            "pass",
            "s3cret",
            "-key",
            "realm",
            "hotline-test",
            "-key",
            "expires",
            "120",
        ],
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let extra = format!(
        "[[trunk]]\nname = \"provider\"\naddress = \"{}\"\nusername = \"trunkuser\"\npassword = \"{password}\"\nrealm = \"hotline-test\"\nexpiry_secs = 120\n",
        registrar.local_addr()
    );
    let _app = spawn_app(AppOptions {
        extra,
        ..Default::default()
    })
    .await;
    registrar.wait().await.unwrap()
}

#[tokio::test]
async fn registers_with_digest_md5_with_and_without_qop() {
    for scenario in ["register_trunk_uas.xml", "register_trunk_uas_qop.xml"] {
        let out = register(scenario, "s3cret").await;
        out.ensure_success().unwrap();
        assert!(
            out.messages.contains("Authorization: Digest"),
            "{}",
            out.report()
        );
    }
}

#[tokio::test]
async fn wrong_password_is_refused_by_the_registrar() {
    let out = register("register_trunk_uas.xml", "wrong").await;
    assert!(!out.success);
    assert!(
        out.errors.contains("digest authentication FAILED"),
        "{}",
        out.report()
    );
}
