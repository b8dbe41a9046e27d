// A point on the map as people type it: degrees with a point or a comma
// ("47.8388" or "47,8388"), both coordinates or neither. The same rules
// as the server's (registration.rs `check_place`).
import { t } from './i18n.js';

/** The number typed, or null when the field is empty or not a number. */
export function degrees(text) {
  const s = String(text ?? '').trim().replace(',', '.');
  if (!s || !/^[-+]?\d+(\.\d+)?$/.test(s)) return null;
  return Number(s);
}

/** What is wrong with the pair, field by field. */
export function placeErrors(latitude, longitude) {
  const lat = String(latitude ?? '').trim();
  const lon = String(longitude ?? '').trim();
  if (!lat && !lon) return [];
  if (!lat) return [{ field: 'latitude', message: t('err_place_both') }];
  if (!lon) return [{ field: 'longitude', message: t('err_place_both') }];
  const errors = [];
  const range = (field, text, limit, key) => {
    const n = degrees(text);
    if (n === null || Math.abs(n) > limit) errors.push({ field, message: t(key) });
  };
  range('latitude', lat, 90, 'err_latitude');
  range('longitude', lon, 180, 'err_longitude');
  return errors;
}
