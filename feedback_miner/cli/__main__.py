from feedback_miner.cli import main

if __name__ == "__main__":  # a spawned clustering worker must not run the CLI again
    main()
