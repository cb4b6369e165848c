"""OpenVLA-OFT in torch with the released parameter names, and ADP token selection. No ROS here."""
