"""ament_python build for adp_ros; also what `pip install .` uses in the pip-only environment."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "adp_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),  # noqa: PTH207 (the ament_python convention)
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),  # noqa: PTH207
        # The committed tiny LIBERO policy (`adp-ros sim eval` without --model, `make demo`).
        *(
            (f"share/{PACKAGE}/{d}", [f for f in glob(f"{d}/*") if not f.endswith(".md")])  # noqa: PTH207
            for d in sorted(glob("models/*"))  # noqa: PTH207
            if not d.endswith(".md")
        ),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="adp_ros maintainers",
    maintainer_email="adp-ros@example.com",
    description="OpenVLA-OFT with Action-aware Dynamic Pruning as a ROS 2 node.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},  # tests_require is gone from setuptools (a warning per build)
    entry_points={
        "console_scripts": [
            "adp_node = adp_ros.ros.main:main",
            "adp-ros = adp_ros.tools.cli:main",
        ],
    },
)
