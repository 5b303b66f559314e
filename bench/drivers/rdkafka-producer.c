/*
 * A small librdkafka producer for the benchmark: the same client library as kcat, without kcat's
 * stdin handling (kcat reads 1024-byte fread()s and serves delivery reports only between lines).
 *
 *   rdkafka-producer BOOTSTRAP TOPIC [name=value ...]     (name=value: librdkafka settings)
 *
 *   stdin   one message per line; a line "@P" sends the lines after it to partition P; empty lines
 *           are skipped. Read with read() in 1 MiB blocks, so a line is produced as soon as it
 *           arrives.
 *   stdout  "ready N" once the topic's N partitions are known; then, after each poll that served
 *           delivery reports, one line "P COUNT" per partition that had COUNT messages acknowledged;
 *           "failed P REASON" for a message that was not delivered.
 *
 * Delivery reports are served by a thread of their own (rd_kafka_poll in a loop), so they are
 * written as the acknowledgements arrive, whether or not more input comes. On end of input it waits
 * until every message is acknowledged, then exits 0 (1 if any delivery failed).
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rd_kafka_t *producer;
static long *delivered;     /* per partition, since the last report; touched by the poll thread only */
static int partition_count;
static volatile int input_done;
static int failures;

static void on_delivery(rd_kafka_t *kafka, const rd_kafka_message_t *message, void *opaque) {
  (void)kafka;
  (void)opaque;
  if (message->err) {
    failures++;
    printf("failed %d %s\n", (int)message->partition, rd_kafka_err2str(message->err));
  } else if (message->partition >= 0 && message->partition < partition_count) {
    delivered[message->partition]++;
  }
}

static void report_delivered(void) {
  for (int partition = 0; partition < partition_count; partition++) {
    if (delivered[partition] == 0) continue;
    printf("%d %ld\n", partition, delivered[partition]);
    delivered[partition] = 0;
  }
  fflush(stdout);
}

static void *serve_reports(void *unused) {
  (void)unused;
  while (!input_done || rd_kafka_outq_len(producer) > 0) {
    rd_kafka_poll(producer, 50);
    report_delivered();
  }
  return NULL;
}

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "rdkafka-producer: %s: %s\n", what, detail);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 3) fail("usage", "rdkafka-producer BOOTSTRAP TOPIC [name=value ...]");
  char error[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], error, sizeof error) != RD_KAFKA_CONF_OK) fail("bootstrap.servers", error);
  for (int index = 3; index < argc; index++) {
    char *equals = strchr(argv[index], '=');
    if (equals == NULL) fail("not name=value", argv[index]);
    *equals = '\0';
    if (rd_kafka_conf_set(conf, argv[index], equals + 1, error, sizeof error) != RD_KAFKA_CONF_OK) fail(argv[index], error);
  }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (producer == NULL) fail("rd_kafka_new", error);
  rd_kafka_topic_t *topic = rd_kafka_topic_new(producer, argv[2], NULL);

  const struct rd_kafka_metadata *metadata;
  rd_kafka_resp_err_t status = rd_kafka_metadata(producer, 0, topic, &metadata, 30000);
  if (status != RD_KAFKA_RESP_ERR_NO_ERROR) fail("metadata", rd_kafka_err2str(status));
  if (metadata->topic_cnt != 1 || metadata->topics[0].err) fail("metadata", "topic not found");
  partition_count = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);
  delivered = calloc((size_t)partition_count, sizeof *delivered);
  printf("ready %d\n", partition_count);
  fflush(stdout);

  pthread_t reporter;
  pthread_create(&reporter, NULL, serve_reports, NULL);
  enum { block_bytes = 1 << 20 };
  char *buffer = malloc(2 * block_bytes);
  size_t held = 0; /* bytes of an unfinished line kept at the start of buffer */
  int32_t partition = 0;
  for (;;) {
    ssize_t count = read(STDIN_FILENO, buffer + held, 2 * block_bytes - held);
    if (count <= 0) break;
    char *line = buffer, *end = buffer + held + count, *newline;
    while ((newline = memchr(line, '\n', (size_t)(end - line))) != NULL) {
      size_t length = (size_t)(newline - line);
      if (length > 0 && line[0] == '@') {
        partition = (int32_t)strtol(line + 1, NULL, 10);
      } else if (length > 0) {
        /* F_BLOCK: wait while librdkafka's queue is full (the reporter thread drains it). */
        if (rd_kafka_produce(topic, partition, RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK, line, length, NULL, 0, NULL) == -1) fail("produce", rd_kafka_err2str(rd_kafka_last_error()));
      }
      line = newline + 1;
    }
    held = (size_t)(end - line);
    if (held >= block_bytes) fail("input", "a line longer than 1 MiB");
    memmove(buffer, line, held);
  }
  input_done = 1;
  pthread_join(reporter, NULL);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(producer);
  return failures > 0 ? 1 : 0;
}
