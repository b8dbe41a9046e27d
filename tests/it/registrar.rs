//! Operators' softphones registering with digest authentication: baresip
//! (libre's digest client, not ours) with the right and a wrong password.

use std::time::Duration;

use chrono::Utc;
use hotline::store::operators::{DEFAULT_REALM, NewOperator, QueueMembership};

use crate::peers::baresip::{Baresip, BaresipOptions, RegState, Registration};
use crate::{AppOptions, T, spawn_app};

async fn phone(app: &crate::TestApp, user: &str, password: &str) -> Baresip {
    Baresip::spawn(BaresipOptions {
        from_user: user.into(),
        registration: Some(Registration {
            registrar: app.sip_addr.to_string(),
            user: user.into(),
            password: Some(password.into()),
            expires: 120,
        }),
        ..Default::default()
    })
    .await
    .expect("baresip starts")
}

#[tokio::test]
async fn operators_register_and_wrong_passwords_are_refused() {
    let app = spawn_app(AppOptions::default()).await;
    let op = NewOperator::new(
        "olena",
        "1001",
        Some("Олена"),
        vec![QueueMembership::new("general", 0)],
        Utc::now(),
    );
    app.store()
        .add_operator(&op, "secret123", DEFAULT_REALM)
        .await
        .unwrap();

    let mut good = phone(&app, "1001", "secret123").await;
    good.wait_registered(T)
        .await
        .expect("registered with the right password");

    let mut bad = phone(&app, "1001", "not-the-password").await;
    assert_eq!(
        bad.wait_registration_done(T).await.unwrap(),
        RegState::Failed
    );

    let mut stranger = phone(&app, "4040", "whatever1").await;
    assert_eq!(
        stranger.wait_registration_done(T).await.unwrap(),
        RegState::Failed,
        "no such operator"
    );

    // The good phone stays registered (it refreshes on its own).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        good.registration_state().await.unwrap(),
        RegState::Registered
    );
    for p in [good, bad, stranger] {
        p.stop().await;
    }
}
