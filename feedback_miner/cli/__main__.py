from feedback_miner.cli import main

main()
