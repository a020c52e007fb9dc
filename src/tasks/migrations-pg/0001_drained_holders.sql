CREATE TABLE "task_drained_holders" (
	"tenant" text NOT NULL,
	"holder" text NOT NULL,
	"since" bigint NOT NULL,
	CONSTRAINT "task_drained_holders_tenant_holder_pk" PRIMARY KEY("tenant","holder")
);
