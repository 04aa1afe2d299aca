package stelar.s3_test

# Tests of the role spec stelar/s3.policy.yaml, run against the module Regent compiles from it.

import data.stelar.s3

ask(roles, action, resource) if s3.allow with input as {"subject": {"roles": roles}, "action": action, "resource": resource}

# Data-Analyst: may read my-object-3.txt, and nothing else.

test_analyst_reads_object_3 if ask(["Data-Analyst"], "read", "my-bucket/my-object-3.txt")

test_analyst_reads_object_3_by_operation if ask(["Data-Analyst"], "s3:GetObject", "my-bucket/my-object-3.txt")

test_analyst_cannot_read_other_objects if not ask(["Data-Analyst"], "read", "my-bucket/my-object-1.txt")

test_analyst_cannot_write_object_3 if not ask(["Data-Analyst"], "write", "my-bucket/my-object-3.txt")

test_analyst_cannot_delete_object_3 if not ask(["Data-Analyst"], "s3:DeleteObject", "my-bucket/my-object-3.txt")

# Data-Manager: reads everything in my-bucket, writes and deletes only the named objects.

test_manager_reads_anything_in_the_bucket if {
	ask(["Data-Manager"], "read", "my-bucket/my-object-3.txt")
	ask(["Data-Manager"], "s3:GetObject", "my-bucket/any/thing.csv")
}

test_manager_cannot_read_other_buckets if not ask(["Data-Manager"], "read", "other-bucket/my-object-3.txt")

test_manager_cannot_read_a_bucket_named_like_a_prefix if not ask(["Data-Manager"], "read", "my-bucket-2/x")

test_manager_writes_object_1_only if {
	ask(["Data-Manager"], "write", "my-bucket/my-object-1.txt")
	ask(["Data-Manager"], "s3:PutObject", "my-bucket/my-object-1.txt")
	not ask(["Data-Manager"], "write", "my-bucket/my-object-2.txt")
}

test_manager_deletes_object_2_only if {
	ask(["Data-Manager"], "delete", "my-bucket/my-object-2.txt")
	not ask(["Data-Manager"], "delete", "my-bucket/my-object-1.txt")
}

# Everyone else, and malformed input: denied.

test_no_roles_denied if not ask([], "read", "my-bucket/my-object-3.txt")

test_unknown_role_denied if not ask(["Intern"], "read", "my-bucket/my-object-3.txt")

test_roles_not_a_list_denied if not s3.allow with input as {"subject": {"roles": "Data-Manager"}, "action": "read", "resource": "my-bucket/x"}

test_unknown_action_denied if not ask(["Data-Manager"], "s3:ListBucket", "my-bucket/x")

test_reasons_name_the_grant if {
	s3.reasons == {"Data-Analyst may read my-bucket/my-object-3.txt"} with input as {"subject": {"roles": ["Data-Analyst"]}, "action": "read", "resource": "my-bucket/my-object-3.txt"}
}
