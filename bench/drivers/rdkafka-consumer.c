/*
 * A small librdkafka consumer for the benchmark: the library kcat uses, without kcat's output of
 * every message (a formatted write per message), so the bench has a librdkafka consume row that
 * shows the broker's consume rate rather than kcat's output path.
 *
 *   rdkafka-consumer BOOTSTRAP TOPIC GROUP [name=value ...]     (name=value: librdkafka settings)
 *
 *   A member of consumer group GROUP subscribed to TOPIC, from the earliest offset when the group
 *   has none committed (auto.offset.reset=earliest), committing automatically (librdkafka's
 *   enable.auto.commit with its auto.commit.interval.ms). Messages are taken from the consumer
 *   queue in batches of up to 10,000 (rd_kafka_consume_batch_queue) and only counted.
 *
 *   stdout  "assigned P P …" after each assignment;
 *           "count N" after each batch taken: N more messages consumed;
 *           "end P" when partition P has no more messages for now (enable.partition.eof);
 *           "error REASON" for a consumer error other than a partition's end.
 *   SIGTERM or SIGINT: closes the consumer (commits, leaves the group) and exits 0.
 */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stopping;

static void on_signal(int signal_number) {
  (void)signal_number;
  stopping = 1;
}

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "rdkafka-consumer: %s: %s\n", what, detail);
  exit(2);
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
  char error[512];
  if (rd_kafka_conf_set(conf, name, value, error, sizeof error) != RD_KAFKA_CONF_OK) fail(name, error);
}

static void on_rebalance(rd_kafka_t *consumer, rd_kafka_resp_err_t reason, rd_kafka_topic_partition_list_t *partitions, void *opaque) {
  (void)opaque;
  if (reason == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(consumer, partitions);
    printf("assigned");
    for (int index = 0; index < partitions->cnt; index++) printf(" %d", (int)partitions->elems[index].partition);
    printf("\n");
    fflush(stdout);
  } else {
    rd_kafka_assign(consumer, NULL);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) fail("usage", "rdkafka-consumer BOOTSTRAP TOPIC GROUP [name=value ...]");
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", argv[1]);
  set(conf, "group.id", argv[3]);
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "enable.partition.eof", "true");
  for (int index = 4; index < argc; index++) {
    char *equals = strchr(argv[index], '=');
    if (equals == NULL) fail("not name=value", argv[index]);
    *equals = '\0';
    set(conf, argv[index], equals + 1);
  }
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  char error[512];
  rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (consumer == NULL) fail("rd_kafka_new", error);
  rd_kafka_poll_set_consumer(consumer);

  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, argv[2], RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t status = rd_kafka_subscribe(consumer, topics);
  if (status != RD_KAFKA_RESP_ERR_NO_ERROR) fail("subscribe", rd_kafka_err2str(status));
  rd_kafka_topic_partition_list_destroy(topics);

  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);

  enum { batch_capacity = 10000 };
  rd_kafka_message_t **batch = malloc(batch_capacity * sizeof *batch);
  rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(consumer);
  while (!stopping) {
    ssize_t taken = rd_kafka_consume_batch_queue(queue, 100, batch, batch_capacity);
    if (taken < 0) fail("consume", rd_kafka_err2str(rd_kafka_last_error()));
    long messages = 0;
    for (ssize_t index = 0; index < taken; index++) {
      rd_kafka_message_t *message = batch[index];
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (messages > 0) printf("count %ld\n", messages);
        messages = 0;
        printf("end %d\n", (int)message->partition);
      } else if (message->err) {
        printf("error %s\n", rd_kafka_message_errstr(message));
      } else {
        messages++;
      }
      rd_kafka_message_destroy(message);
    }
    if (messages > 0) printf("count %ld\n", messages);
    if (taken > 0) fflush(stdout);
  }
  rd_kafka_queue_destroy(queue);
  free(batch);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return 0;
}
