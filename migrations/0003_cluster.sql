-- Cluster membership, as in the original (reference section 1, `cluster_nodes`), plus `approved`: only nodes an
-- administrator approved count for a receive_from_workflow gate whose allowed_nodes is empty. A node that merely
-- connected is recorded, never trusted by that.
CREATE TABLE cluster_nodes (
    id bigserial PRIMARY KEY,
    name varchar(255) NOT NULL,
    label varchar(255),
    status varchar(255) DEFAULT 'unknown',
    last_seen_at timestamp(0) without time zone,
    metadata jsonb DEFAULT '{}',
    approved boolean NOT NULL DEFAULT false,
    inserted_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at timestamp(0) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE UNIQUE INDEX cluster_nodes_name_index ON cluster_nodes (name);
