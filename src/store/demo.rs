//! Demonstration data, so menu 4 (appeal status) and menu 5 (outages) can be
//! tried by phone before the operator console files real appeals:
//! `hotline demo seed`. Also what the IVR integration tests call in with.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{NewRepairWork, Service, Store, StoreError, WorkAddress, WorkKind, WorkStatus};
use crate::appeal::{AppealRow, AppealStatus};

/// The sample appeal's registration number.
pub const APPEAL_NUMBER: &str = "1580-2026-000123";
/// The caller the sample appeal belongs to.
pub const CALLER: &str = "+380611234567";
/// The caller's address on that appeal; the sample outage affects it.
pub const ADDRESS: &str = "вул. Соборна, 12, кв. 5";

/// The sample outage's description, by which a second seed finds it.
const WORK_DESCRIPTION: &str = "Аварія на водогоні: немає холодної води";

/// Adds the sample appeal (in progress, due tomorrow at 18:00 UTC) and an
/// emergency water outage on вул. Соборна active from an hour ago for six
/// hours. Returns their ids. Seeding again adds nothing: what is there
/// (the appeal, an active sample outage) is kept and its id returned.
pub async fn seed(store: &Store, now: DateTime<Utc>) -> Result<(Uuid, Uuid), StoreError> {
    let existing = store.appeal_by_registration_number(APPEAL_NUMBER).await?;
    let appeal_id = match existing {
        Some(appeal) => appeal.id,
        None => insert_sample_appeal(store, now).await?,
    };
    let active = store.active_repair_works(now).await?;
    let work_id = match active.iter().find(|w| w.description == WORK_DESCRIPTION) {
        Some(work) => work.id,
        None => insert_sample_work(store, now).await?,
    };
    Ok((appeal_id, work_id))
}

async fn insert_sample_appeal(store: &Store, now: DateTime<Utc>) -> Result<Uuid, StoreError> {
    let appeal = AppealRow {
        id: Uuid::new_v4(),
        registration_number: APPEAL_NUMBER.into(),
        status: AppealStatus::InProgress,
        category: "Водопостачання / Відсутність холодної води".into(),
        executor: "vodokanal".into(),
        deadline: (now + Duration::days(1))
            .date_naive()
            .and_hms_opt(18, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(now),
        caller_phone: CALLER.into(),
        address: Some(ADDRESS.into()),
        created_at: now - Duration::hours(2),
        call_id: None,
    };
    store.insert_appeal(&appeal).await?;
    Ok(appeal.id)
}

async fn insert_sample_work(store: &Store, now: DateTime<Utc>) -> Result<Uuid, StoreError> {
    let work = NewRepairWork {
        id: Uuid::new_v4(),
        kind: WorkKind::Emergency,
        service: Service::Water,
        description: WORK_DESCRIPTION.into(),
        starts_at: now - Duration::hours(1),
        expected_end: now + Duration::hours(6),
        status: WorkStatus::Active,
        created_at: now - Duration::hours(1),
        addresses: vec![WorkAddress {
            street: "вул. Соборна".into(),
            house: None,
        }],
        executor: Some("vodokanal".into()),
        registered_by: None,
    };
    store.insert_repair_work(&work).await?;
    Ok(work.id)
}
