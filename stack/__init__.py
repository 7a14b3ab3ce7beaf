"""The local stack: PostgreSQL, Kafka (KRaft), Kafka Connect with Debezium and Elasticsearch installed
from Debian packages and Maven Central, run with our services under supervisord. No containers needed."""
