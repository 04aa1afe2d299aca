/**
 * Every error code Regent gives (problem documents, activation failures, start-up failures, `regent`
 * refusals), declared once. The type {@link ErrorCode} is its keys; the value names the section of
 * `docs/errors.md` that explains it. `test/docs/error-codes.test.ts` holds this map, the codes thrown in
 * `src/` and the tables of `docs/errors.md` equal: a new code goes here and there, or the suite fails.
 */
export const ERROR_CODES = {
  // requests
  route_not_found: 'requests',
  method_not_allowed: 'requests',
  bundle_not_found: 'requests',
  no_active_revision: 'requests',
  invalid_if_none_match: 'requests',
  invalid_prefer: 'requests',
  invalid_path_encoding: 'requests',
  body_too_large: 'requests',
  unsupported_encoding: 'requests',
  unsupported_charset: 'requests',
  invalid_utf8: 'requests',
  json_too_deep: 'requests',
  invalid_json: 'requests',
  internal_error: 'requests',
  // revisions-that-cannot-be-activated
  gate_failed: 'revisions-that-cannot-be-activated',
  invalid_bundle_definition: 'revisions-that-cannot-be-activated',
  bundle_empty: 'revisions-that-cannot-be-activated',
  roots_overlap: 'revisions-that-cannot-be-activated',
  data_outside_roots: 'revisions-that-cannot-be-activated',
  package_outside_roots: 'revisions-that-cannot-be-activated',
  package_outside_directory: 'revisions-that-cannot-be-activated',
  file_outside_bundles: 'revisions-that-cannot-be-activated',
  conflicting_data_files: 'revisions-that-cannot-be-activated',
  invalid_yaml: 'revisions-that-cannot-be-activated',
  invalid_data: 'revisions-that-cannot-be-activated',
  invalid_encoding: 'revisions-that-cannot-be-activated',
  invalid_rego: 'revisions-that-cannot-be-activated',
  invalid_path: 'revisions-that-cannot-be-activated',
  unsupported_file_kind: 'revisions-that-cannot-be-activated',
  file_too_large: 'revisions-that-cannot-be-activated',
  too_many_files: 'revisions-that-cannot-be-activated',
  bundle_too_large: 'revisions-that-cannot-be-activated',
  bundle_name_reserved: 'revisions-that-cannot-be-activated',
  unknown_signing_key: 'revisions-that-cannot-be-activated',
  self_verification_failed: 'revisions-that-cannot-be-activated',
  gate_unavailable: 'revisions-that-cannot-be-activated',
  state_unwritable: 'revisions-that-cannot-be-activated',
  // findings-of-the-gate
  rego_test_failed: 'findings-of-the-gate',
  rego_test_error: 'findings-of-the-gate',
  rego_check_error: 'findings-of-the-gate',
  // bundle-verification
  tarball_invalid: 'bundle-verification',
  tarball_too_large: 'bundle-verification',
  signature_missing: 'bundle-verification',
  signature_invalid: 'bundle-verification',
  unknown_key_id: 'bundle-verification',
  scope_mismatch: 'bundle-verification',
  file_not_signed: 'bundle-verification',
  signed_file_missing: 'bundle-verification',
  digest_mismatch: 'bundle-verification',
  hash_algorithm_unsupported: 'bundle-verification',
  signed_file_invalid: 'bundle-verification',
  manifest_invalid: 'bundle-verification',
  // store
  invalid_revision: 'store',
  revision_not_found: 'store',
  head_moved: 'store',
  no_changes: 'store',
  file_not_found: 'store',
  no_head: 'store',
  tree_too_large: 'store',
  blob_not_found: 'store',
  blob_missing: 'store',
  invalid_blob_id: 'store',
  tree_not_found: 'store',
  invalid_tree: 'store',
  invalid_branch: 'store',
  invalid_changes: 'store',
  invalid_date: 'store',
  invalid_identity: 'store',
  invalid_trailer: 'store',
  invalid_limit: 'store',
  invalid_skip: 'store',
  reserved_bundle_path: 'store',
  signing_failed: 'store',
  invalid_structured_file: 'store',
  unsupported_file: 'store',
  // admin-api
  token_missing: 'admin-api',
  token_malformed: 'admin-api',
  token_expired: 'admin-api',
  token_not_yet_valid: 'admin-api',
  token_invalid: 'admin-api',
  missing_role: 'admin-api',
  invalid_query: 'admin-api',
  invalid_body: 'admin-api',
  invalid_field: 'admin-api',
  unsupported_media_type: 'admin-api',
  base_revision_required: 'admin-api',
  invalid_if_match: 'admin-api',
  invalid_message: 'admin-api',
  duplicate_path: 'admin-api',
  path_conflict: 'admin-api',
  validation_failed: 'admin-api',
  ambiguous_revision: 'admin-api',
  revision_not_in_history: 'admin-api',
  evaluation_failed: 'admin-api',
  audit_chain_broken: 'admin-api',
  // opa-runs
  opa_busy: 'opa-runs',
  opa_timeout: 'opa-runs',
  opa_memory_limit: 'opa-runs',
  opa_output_limit: 'opa-runs',
  opa_unavailable: 'opa-runs',
  // change-requests
  invalid_change_request_id: 'change-requests',
  change_request_not_found: 'change-requests',
  too_many_open_change_requests: 'change-requests',
  invalid_base_revision: 'change-requests',
  too_many_comments: 'change-requests',
  self_approval: 'change-requests',
  not_change_request_author: 'change-requests',
  approval_required: 'change-requests',
  change_request_closed: 'change-requests',
  change_request_moved: 'change-requests',
  not_approved: 'change-requests',
  merge_conflict: 'change-requests',
  not_fast_forward: 'change-requests',
  // remote-mode-and-webhooks
  webhook_signature_missing: 'remote-mode-and-webhooks',
  webhook_signature_invalid: 'remote-mode-and-webhooks',
  webhooks_busy: 'remote-mode-and-webhooks',
  webhook_not_configured: 'remote-mode-and-webhooks',
  remote_not_configured: 'remote-mode-and-webhooks',
  remote_moved: 'remote-mode-and-webhooks',
  remote_diverged: 'remote-mode-and-webhooks',
  remote_refused: 'remote-mode-and-webhooks',
  remote_unavailable: 'remote-mode-and-webhooks',
  mirror_not_diverged: 'remote-mode-and-webhooks',
  remote_tip_changed: 'remote-mode-and-webhooks',
  remote_tip_required: 'remote-mode-and-webhooks',
  invalid_remote_url: 'remote-mode-and-webhooks',
  insecure_remote_token: 'remote-mode-and-webhooks',
  invalid_remote_tls: 'remote-mode-and-webhooks',
  // environments
  environment_not_found: 'environments',
  environment_revision_required: 'environments',
  environment_moved: 'environments',
  environment_not_fast_forward: 'environments',
  invalid_environment_ref: 'environments',
  // fleet
  invalid_status_report: 'fleet',
  report_token_invalid: 'fleet',
  fleet_reports_disabled: 'fleet',
  // start-up
  invalid_config: 'start-up',
  signing_key_missing: 'start-up',
  signing_key_mismatch: 'start-up',
  insecure_key_file: 'start-up',
  invalid_signing_key: 'start-up',
  auth_key_missing: 'start-up',
  invalid_auth_key: 'start-up',
  data_dir_in_use: 'start-up',
  data_dir_lock_unavailable: 'start-up',
  data_dir_full: 'start-up',
  data_dir_not_writable: 'start-up',
  invalid_ssh_key_file: 'start-up',
} as const satisfies Record<string, ErrorCodeSection>;

/** The sections of `docs/errors.md`, by the slug of their heading. */
export type ErrorCodeSection =
  | 'requests'
  | 'revisions-that-cannot-be-activated'
  | 'findings-of-the-gate'
  | 'bundle-verification'
  | 'store'
  | 'admin-api'
  | 'opa-runs'
  | 'change-requests'
  | 'remote-mode-and-webhooks'
  | 'environments'
  | 'fleet'
  | 'start-up';

/** A stable, documented error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether `code` is one of Regent's error codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}
