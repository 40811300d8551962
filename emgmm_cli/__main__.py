"""python -m emgmm_cli"""

from emgmm_cli.launch import main

if __name__ == "__main__":
    main()
