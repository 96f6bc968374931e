from handoff_cv.cli import main

if __name__ == "__main__":
    main()
