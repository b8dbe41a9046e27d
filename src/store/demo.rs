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

/// Adds the sample appeal (in progress, due tomorrow at 18:00 UTC) and an
/// emergency water outage on вул. Соборна active from an hour ago for six
/// hours. Returns their ids.
pub async fn seed(store: &Store, now: DateTime<Utc>) -> Result<(Uuid, Uuid), StoreError> {
    let appeal = AppealRow {
        id: Uuid::new_v4(),
        registration_number: APPEAL_NUMBER.into(),
        status: AppealStatus::InProgress,
        category: "Водопостачання / Відсутність холодної води".into(),
        executor: "КП «Водоканал»".into(),
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
    let work = NewRepairWork {
        id: Uuid::new_v4(),
        kind: WorkKind::Emergency,
        service: Service::Water,
        description: "Аварія на водогоні: немає холодної води".into(),
        starts_at: now - Duration::hours(1),
        expected_end: now + Duration::hours(6),
        status: WorkStatus::Active,
        created_at: now - Duration::hours(1),
        addresses: vec![WorkAddress {
            street: "вул. Соборна".into(),
            house: None,
        }],
    };
    store.insert_repair_work(&work).await?;
    Ok((appeal.id, work.id))
}
