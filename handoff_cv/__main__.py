from handoff_cv.cli import main

main()
