"""``python -m orch_kafka listen module:flow --topic ...`` (the ``orch-kafka`` command)."""

if __name__ == "__main__":
    from orch_kafka.cli import main

    main()
