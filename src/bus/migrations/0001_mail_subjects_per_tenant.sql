-- Mail topics became per tenant (subject mail.<tenant>.<topic>): messages stored before belong to the default tenant.
UPDATE `bus_messages` SET `subject` = 'mail.default.' || substr(`subject`, 6) WHERE `stream` = 'MAIL' AND `subject` LIKE 'mail.%';
